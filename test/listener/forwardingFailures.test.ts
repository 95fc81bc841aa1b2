import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trackForwardingFailures } from "../../lib/listener/forwardingFailures.ts";
import { silentLog } from "../../lib/listener/listenerLog.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.close());

const rowOf = async (name: string) =>
  (
    await db.sql<[{ failingSince: Date | null; lastError: string | null }]>`
      select failing_since as "failingSince", last_error as "lastError"
      from eventbus.checkpoints where name = ${name}`
  )[0];
const checkpoint = (name: string) =>
  db.sql`insert into eventbus.checkpoints (name, lock_id, position) values (${name}, 1, 0)`;

describe("forwarding failures on the checkpoint row", () => {
  it("records a streak of failed sends once it lasts a second, from its start, and clears it on success", async () => {
    await checkpoint("streak");
    const failures = trackForwardingFailures(db.sql, "streak", silentLog);
    const start = Date.now();
    // One failed call retried at once: no failing subscription.
    failures.failed("ThrottlingException: Rate exceeded");
    failures.succeeded();
    failures.failed("QueueDoesNotExist: The specified queue does not exist.");
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await rowOf("streak")).toEqual({ failingSince: null, lastError: null });
    // Still failing a second later: recorded, with the streak's start.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    failures.failed("QueueDoesNotExist: The specified queue does not exist.");
    await expect.poll(async () => (await rowOf("streak"))?.lastError).toMatch(/^QueueDoesNotExist/);
    const failing = await rowOf("streak");
    expect(failing!.failingSince!.getTime()).toBeGreaterThanOrEqual(start);
    expect(failing!.failingSince!.getTime()).toBeLessThan(start + 1_000);
    failures.succeeded();
    await expect.poll(async () => (await rowOf("streak"))?.failingSince).toBeNull();
    expect((await rowOf("streak"))!.lastError).toMatch(/^QueueDoesNotExist/);
  });

  it("clears what an earlier owner left when tracking starts", async () => {
    await checkpoint("left");
    await db.sql`
      update eventbus.checkpoints set failing_since = now(), last_error = 'AccessDenied: x', last_error_at = now()
      where name = 'left'`;
    trackForwardingFailures(db.sql, "left", silentLog);
    await expect.poll(async () => (await rowOf("left"))?.failingSince).toBeNull();
    expect((await rowOf("left"))!.lastError).toBe("AccessDenied: x");
  });
});
