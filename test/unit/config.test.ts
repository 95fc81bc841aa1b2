import { describe, expect, it } from "vitest";
import { parseConfig } from "../../lib/config.ts";

describe("configuration", () => {
  it("refuses an EVENTBUS_SOURCE that is not a URI-reference, since every event would carry it", () => {
    expect(() => parseConfig({ EVENTBUS_SOURCE: "not a uri" })).toThrow(
      /EVENTBUS_SOURCE must be a URI-reference/,
    );
    expect(parseConfig({ EVENTBUS_SOURCE: "https://example.com/bus" }).EVENTBUS_SOURCE).toBe(
      "https://example.com/bus",
    );
    expect(parseConfig({}).EVENTBUS_SOURCE).toBe("urn:eventbus");
  });

  it("runs the embedded Postgres on EVENTBUS_PG_PORT, 4004 unless set", () => {
    expect(parseConfig({}).EVENTBUS_PG_PORT).toBe(4004);
    expect(parseConfig({ EVENTBUS_PG_PORT: "5544" }).EVENTBUS_PG_PORT).toBe(5544);
    expect(() => parseConfig({ EVENTBUS_PG_PORT: "70000" })).toThrow(/EVENTBUS_PG_PORT/);
  });
});
