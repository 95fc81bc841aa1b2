/**
 * `node migrate.mjs` in the listener image (or `npx tsx functions/migrate/main.ts`): applies pending
 * migrations to `DATABASE_URL` (or the database of `DATABASE_SECRET_ARN`) and exits. The LocalStack
 * compose file runs it before the listener; on AWS the migrations custom resource does the same on deploy.
 */
import { parseConfig } from "../../lib/config.ts";
import { createSql } from "../../lib/db/client.ts";
import { migrate } from "../../lib/db/migrate.ts";
import { databaseUrl } from "../shared/runtime.ts";

const config = parseConfig(process.env);
const sql = createSql(await databaseUrl(config), { max: 1, connect_timeout: 60 });
try {
  const applied = await migrate(sql);
  process.stdout.write(
    `${JSON.stringify({ message: "migrations applied", applied: applied.length ? applied : "none pending" })}\n`,
  );
} finally {
  await sql.end({ timeout: 5 });
}
