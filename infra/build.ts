/**
 * `npm run build` (also run by `npm pack` through `prepack`): compiles the public entry points
 * (`serverless-eventbus/client`, `/consumer`, `/testing`, `/cdk` and the `eventbus` CLI) to dist/ with their `.d.ts`
 * (tsconfig.build.json), then pre-bundles the code the construct deploys, so that an installed package
 * synthesises without the bus's TypeScript sources, without esbuild in the user's project and without
 * Docker-based bundling, and deploys exactly the code that was built and tested here.
 *
 * - `dist/lambda/`: every Lambda handler of the bus (HTTP and WebSocket routes, broadcaster, migrations,
 *   metrics, subscription registration) as ESM with shared chunks. The construct deploys this directory as
 *   one asset (uploaded once) and points each function's `handler` at its own file; a function loads only
 *   the chunks its entry imports.
 * - `dist/listener/`: the listener and the migration runner as single files, plus the Dockerfile that
 *   packages them (infra/listener/bundled.Dockerfile), so the image builds from the installed package.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { build } from "esbuild";
import { bundleLambdaHandlers, busLambdaEntries, esbuildOptions } from "./bundleHandlers.ts";
import { repoRoot } from "./paths.ts";

const dist = join(repoRoot, "dist");

// A clean dist/ each time: a file left from an earlier build would ship in the tarball.
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const compiled = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
  cwd: repoRoot,
  stdio: "inherit",
});
if (compiled.status !== 0) process.exit(compiled.status ?? 1);
chmodSync(join(dist, "lib/cli/main.js"), 0o755);

bundleLambdaHandlers(join(dist, "lambda"));

await build({
  ...esbuildOptions,
  entryPoints: { listener: "functions/listener/main.ts", migrate: "functions/migrate/main.ts" },
  outdir: join(dist, "listener"),
});
copyFileSync(join(repoRoot, "infra/listener/bundled.Dockerfile"), join(dist, "listener", "Dockerfile"));

process.stdout.write(`bundled ${busLambdaEntries.length} Lambda entries and the listener into dist/\n`);
