import { CloudEvent } from "cloudevents";
import { expect } from "vitest";

/**
 * Parses what the bus emitted as a consumer using the official SDK would, in strict mode (the
 * constructor validates against the spec's JSON schema and refuses bad extension names and values), and
 * checks the two rules the SDK leaves out: attribute values are scalars (it lets objects through) and
 * integers are 32-bit (it takes any integer). Names stay within the spec's 20 characters.
 */
export function parseStrict(emitted: Record<string, unknown>): CloudEvent<unknown> {
  const event = new CloudEvent<unknown>(emitted as never, true);
  for (const [name, value] of Object.entries(emitted)) {
    if (name === "data") continue;
    expect(name, `attribute name ${name}`).toMatch(/^[a-z0-9]{1,20}$/);
    expect(["string", "boolean", "number"], `type of ${name}`).toContain(typeof value);
    if (typeof value === "number") {
      expect(Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31, `${name} is an Integer`).toBe(
        true,
      );
    }
  }
  return event;
}
