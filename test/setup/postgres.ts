import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { createSql } from "../../lib/db/client.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { startEmbeddedPostgres } from "../../lib/local/embeddedPostgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** A server URL whose `eventbus_template` database holds the migrated schema. */
    postgresUrl: string;
  }
}

/**
 * One real Postgres for the whole run: `DATABASE_URL` if set, else an embedded one. A migrated template
 * database is prepared once; each test file clones it (see `test/support/database.ts`).
 */
export default async function setup(project: TestProject) {
  const external = process.env.DATABASE_URL;
  const server = external
    ? { url: external, stop: async () => {} }
    : await startEmbeddedPostgres({
        dataDir: join(mkdtempSync(join(tmpdir(), "eventbus-test-")), "pg"),
        persistent: false,
      });

  const admin = createSql(server.url, { max: 1 });
  await admin.unsafe("drop database if exists eventbus_template");
  await admin.unsafe("create database eventbus_template");
  await admin.end();
  const templateUrl = new URL(server.url);
  templateUrl.pathname = "/eventbus_template";
  const template = createSql(templateUrl.toString(), { max: 1 });
  await migrate(template);
  await template.end();

  project.provide("postgresUrl", server.url);
  return async () => {
    await server.stop();
  };
}
