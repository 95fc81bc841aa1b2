import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { Sql } from "../lib/db/client.ts";
import { listen } from "../lib/local/httpAdapter.ts";

/**
 * The baseline table: what any event table minimally needs to be comparable, a `bigserial` primary key
 * (the global position), and nothing else: no other index, constraint, trigger, NOTIFY or stream row.
 */
export async function createPlainTable(sql: Sql): Promise<void> {
  await sql`drop table if exists bench_plain`;
  await sql`
    create table bench_plain (
      position bigserial primary key,
      stream_id text not null,
      version bigint not null,
      id text not null,
      type text not null,
      data jsonb,
      metadata jsonb
    )`;
}

/**
 * A copy of the events table with every index, constraint and collation it has (the "ceiling" reference):
 * a plain `INSERT` into it shows what the table's indexes alone cost against {@link createPlainTable}'s,
 * with no statement of the bus around it. Positions come from a sequence of its own.
 */
export async function createIndexedTable(sql: Sql): Promise<void> {
  await sql`drop table if exists bench_indexed`;
  await sql`drop sequence if exists bench_indexed_position`;
  await sql`create table bench_indexed (like eventbus.events including all)`;
  await sql`create sequence bench_indexed_position owned by bench_indexed.position`;
  await sql`alter table bench_indexed alter column position set default nextval('bench_indexed_position')`;
}

async function readJson(req: IncomingMessage): Promise<{ type: string; data: unknown; metadata?: unknown }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

/**
 * The bare HTTP baseline: a `node:http` server that reads `POST /streams/{id}/events`, parses the JSON
 * event and runs the plain single-row insert into `bench_plain`, answering 201 with the position. It
 * checks no token and validates nothing.
 */
export async function startBareInsertServer(sql: Sql): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    try {
      const event = await readJson(req);
      const streamId = decodeURIComponent(req.url!.split("/")[2]!);
      const [row] = await sql<[{ position: number }]>`
        insert into bench_plain (stream_id, version, id, type, data, metadata)
        values (${streamId}, 1, ${randomUUID()}, ${event.type}, ${sql.json(event.data as never)},
          ${event.metadata === undefined ? null : sql.json(event.metadata as never)})
        returning position`;
      const body = JSON.stringify({ streamId, position: row!.position });
      res.writeHead(201, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      res.end(body);
    } catch {
      res.writeHead(500).end();
    }
  });
  return { url: await listen(server, 0), server };
}
