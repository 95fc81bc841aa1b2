import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { type Listener, listenerSqlOptions, startListener } from "../../lib/listener/startListener.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { listSubscriptions } from "../../lib/subscriptions/listSubscriptions.ts";
import { readSubscriptionStatus } from "../../lib/subscriptions/readSubscriptionStatus.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createSqsClient, receiveEvents, spawnListener, uniquePrefix } from "./support.ts";

const sqs = createSqsClient();
const prefix = uniquePrefix("owner");
let db: TestDatabase;
const pools: Sql[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  for (const name of ["a", "b", "c", "d"]) {
    await createSubscription(db.sql, sqs, {
      name,
      definition: parseSubscriptionDefinition({ filter: { type: ["Owned"] } }),
      queuePrefix: prefix,
    });
  }
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end({ timeout: 5 })));
  await db.close();
  sqs.destroy();
});

const start = (listenerId: string): Promise<Listener> => {
  const sql = createSql(db.url, listenerSqlOptions);
  pools.push(sql);
  return startListener({ sql, sqs, source: "urn:test", listenerId, claimIntervalMs: 200 });
};

const owners = async () =>
  Object.fromEntries(
    (await readSubscriptionStatus(db.sql, sqs, await listSubscriptions(db.sql))).map((s) => [
      s.name,
      s.owner,
    ]),
  );

describe("several listeners", () => {
  it("forward each subscription from exactly one listener", async () => {
    const [x, y] = await Promise.all([start("x"), start("y")]);
    try {
      await new Promise((resolve) => setTimeout(resolve, 600));
      const ownedByX = x.owned();
      const ownedByY = y.owned();
      expect(ownedByX.filter((name) => ownedByY.includes(name))).toEqual([]);
      expect([...ownedByX, ...ownedByY].sort()).toEqual(["a", "b", "c", "d"]);
      const shown = await owners();
      for (const name of ownedByX) expect(shown[name]).toBe("x");
      for (const name of ownedByY) expect(shown[name]).toBe("y");

      // Every event reaches each queue once, whichever listener owns it.
      await appendToStream(db.sql, "o-1", [{ type: "Owned", data: { i: 1 } }]);
      for (const s of await listSubscriptions(db.sql)) {
        const received = await receiveEvents(sqs, s.queueUrl, 1, { settleMs: 300 });
        expect(received.map((r) => r.event.data)).toEqual([{ i: 1 }]);
      }
    } finally {
      await Promise.all([x.stop(), y.stop()]);
    }
    // Stopped listeners release what they owned.
    expect(Object.values(await owners())).toEqual([null, null, null, null]);
  });

  it("take over within seconds when the owner dies", async () => {
    const doomed = spawnListener({ DATABASE_URL: db.url, EVENTBUS_LISTENER_ID: "doomed" });
    await doomed.ready;
    await expect
      .poll(owners, { timeout: 10_000 })
      .toEqual({ a: "doomed", b: "doomed", c: "doomed", d: "doomed" });
    const survivor = await start("survivor");
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(survivor.owned()).toEqual([]); // nothing to take while the owner lives

      await doomed.kill();
      const killedAt = Date.now();
      await expect
        .poll(owners, { timeout: 5_000, interval: 50 })
        .toEqual({ a: "survivor", b: "survivor", c: "survivor", d: "survivor" });
      expect(Date.now() - killedAt).toBeLessThan(5_000);

      await appendToStream(db.sql, "o-2", [{ type: "Owned", data: { i: 2 } }]);
      for (const s of await listSubscriptions(db.sql)) {
        const received = await receiveEvents(sqs, s.queueUrl, 1, { settleMs: 300 });
        expect(received.map((r) => r.event.data)).toEqual([{ i: 2 }]);
      }
    } finally {
      await survivor.stop();
      await doomed.kill();
    }
  });

  it("exit cleanly on SIGTERM (as ECS stops a task), leaving their subscriptions free", async () => {
    const leaving = spawnListener({ DATABASE_URL: db.url, EVENTBUS_LISTENER_ID: "leaving" });
    await leaving.ready;
    await expect
      .poll(owners, { timeout: 10_000 })
      .toEqual({ a: "leaving", b: "leaving", c: "leaving", d: "leaving" });
    const stoppedAt = Date.now();
    expect(await leaving.terminate()).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
    expect(await owners()).toEqual({ a: null, b: null, c: null, d: null });
  });
});
