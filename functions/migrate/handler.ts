import type { CloudFormationCustomResourceEvent } from "aws-lambda";
import { parseConfig } from "../../lib/config.ts";
import { createSql } from "../../lib/db/client.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { databaseUrl } from "../shared/runtime.ts";

/** Stable: there is one migrations resource per bus, and its identity never changes. */
const PHYSICAL_ID = "eventbus-migrations";

/**
 * CloudFormation custom resource (via the CDK Provider framework): applies pending migrations on Create
 * and Update. Delete leaves the schema alone - dropping an event store is never a side effect of a deploy.
 */
export async function handler(event: CloudFormationCustomResourceEvent) {
  if (event.RequestType === "Delete") return { PhysicalResourceId: event.PhysicalResourceId };
  const config = parseConfig(process.env);
  // A paused Aurora Serverless v2 cluster takes a few seconds to resume; give the first connection time.
  const sql = createSql(await databaseUrl(config), { max: 1, connect_timeout: 60 });
  try {
    const applied = await migrate(sql);
    console.log(JSON.stringify({ message: "migrations applied", applied }));
    return { PhysicalResourceId: PHYSICAL_ID, Data: { Applied: applied.join(",") } };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
