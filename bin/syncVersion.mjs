#!/usr/bin/env node
/**
 * Run by `npm version` (the `version` script, after package.json is bumped and before the commit): writes
 * the new version into lib/client/version.ts, which every build compiles in (the CLI's `--version`,
 * `GET /health`, the API documents), and stages it so the version commit carries both.
 */
import { readFileSync, writeFileSync } from "node:fs";

const { version } = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
const file = new URL("../lib/client/version.ts", import.meta.url);
const source = readFileSync(file, "utf8");
const next = source.replace(
  /export const VERSION = "[^"]*";/,
  `export const VERSION = ${JSON.stringify(version)};`,
);
if (next === source && !source.includes(`"${version}"`)) {
  process.stderr.write('syncVersion: no `export const VERSION = "...";` in lib/client/version.ts\n');
  process.exit(1);
}
writeFileSync(file, next);
