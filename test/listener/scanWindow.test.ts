import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql, type Sql } from "../../lib/db/client.ts";
import { appendToStream } from "../../lib/events/appendToStream.ts";
import { readSafeHead } from "../../lib/events/readSafeHead.ts";
import { type Listener, listenerSqlOptions, startListener } from "../../lib/listener/startListener.ts";
import { createSubscription } from "../../lib/subscriptions/createSubscription.ts";
import { parseSubscriptionDefinition } from "../../lib/subscriptions/definition.ts";
import { FORWARD_SCAN_WINDOW, readForwardPage } from "../../lib/subscriptions/readForwardPage.ts";
import { createTestDatabase, type TestDatabase } from "../support/database.ts";
import { createSqsClient, receiveEvents, uniquePrefix } from "./support.ts";

/**
 * A subscription whose filter rarely matches must not make one page query scan the whole log (on a long
 * log it runs into the statement timeout and the subscription never moves): a page looks at one window of
 * positions, and the forwarder goes on from where the window ended.
 */
const sqs = createSqsClient();
const prefix = uniquePrefix("window");
let db: TestDatabase;
let listenerSql: Sql;
let listener: Listener | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  listenerSql = createSql(db.url, listenerSqlOptions);
});
afterAll(async () => {
  await listener?.stop();
  await listenerSql.end({ timeout: 5 });
  await db.close();
  sqs.destroy();
});

const subscribe = async (name: string, body: unknown) =>
  (
    await createSubscription(db.sql, sqs, {
      name,
      definition: parseSubscriptionDefinition(body),
      queuePrefix: prefix,
    })
  ).subscription;

describe("forwarding with a rarely matching filter", () => {
  it("reads a page as one window of positions, which ends before the head when the log goes on", async () => {
    await subscribe("window-page", { filter: { type: ["Rare"] }, startFrom: "origin" });
    for (let i = 0; i < 3; i++) {
      await appendToStream(
        db.sql,
        `filler-${i}`,
        Array.from({ length: 10 }, () => ({ type: "Filler", data: {} })),
      );
    }
    await appendToStream(db.sql, "rare-1", [{ type: "Rare", data: {} }]);
    // The gap-safe head moves with head probes (the listener records them before it reads). Settled, as
    // the listener's own reads are: a wake-up NOTIFY still committing would otherwise hold it back.
    await readSafeHead(db.sql);
    const where = db.sql`type = any(${["Rare"]}::text[])`;
    const read = (after?: number) =>
      readForwardPage(db.sql, {
        name: "window-page",
        lockPid: 0,
        limit: 5,
        where,
        window: 12,
        ...(after === undefined ? {} : { after }),
      });
    const first = await read();
    expect(first).toMatchObject({ after: 0, events: [], scannedThrough: 12, more: true });
    const second = await read(24);
    expect(second?.events.map((e) => e.streamId)).toEqual(["rare-1"]);
    expect(second).toMatchObject({ scannedThrough: 31, more: false });
  });

  it(`delivers a rare event behind more than ${FORWARD_SCAN_WINDOW.toLocaleString("en")} others without waiting for the poll`, async () => {
    const { queueUrl } = await subscribe("window-rare", { filter: { type: ["Rare"] }, startFrom: "current" });
    const filler = Array.from({ length: 1000 }, () => ({ type: "Filler", data: {} }));
    for (let i = 0; i < Math.ceil((FORWARD_SCAN_WINDOW * 1.2) / 1000); i++) {
      await appendToStream(db.sql, `bulk-${i}`, filler);
    }
    await appendToStream(db.sql, "rare-2", [{ type: "Rare", data: { n: 2 } }]);
    // Everything is stored before the listener starts: its catch-up on start is the only wake-up (the
    // safety-net poll is out of reach), so it must go on past the first window by itself.
    listener = await startListener({ sql: listenerSql, sqs, source: "urn:test", pollIntervalMs: 120_000 });
    const received = await receiveEvents(sqs, queueUrl, 1, { timeoutMs: 30_000 });
    expect(received.map((r) => r.event.subject)).toEqual(["rare-2"]);
  });
});
