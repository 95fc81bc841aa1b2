/**
 * `npm run build` (also run by `npm pack` through `prepack`): compiles the public entry points
 * (`eventbus/client`, `/consumer`, `/testing`, `/cdk` and the `eventbus` CLI) to dist/ with their `.d.ts`
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
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type BuildOptions, build } from "esbuild";
import { httpRoutes } from "../functions/http/routes.ts";
import { wsRoutes } from "../functions/ws/routes.ts";
import { bundledLambdaEntries, esmRequireShim, repoRoot } from "./paths.ts";

const dist = join(repoRoot, "dist");

const entries = [...new Set([...httpRoutes, ...wsRoutes].map((r) => r.entry).concat(bundledLambdaEntries))];

const common: BuildOptions = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  mainFields: ["module", "main"],
  banner: { js: esmRequireShim },
  minify: true,
  sourcemap: true,
  // Lambda and the image run Node 22; .mjs makes each file ESM without a package.json beside it.
  outExtension: { ".js": ".mjs" },
  absWorkingDir: repoRoot,
  logLevel: "warning",
  legalComments: "none",
};

// A clean dist/ each time: a file left from an earlier build would ship in the tarball.
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
const compiled = spawnSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], {
  cwd: repoRoot,
  stdio: "inherit",
});
if (compiled.status !== 0) process.exit(compiled.status ?? 1);
chmodSync(join(dist, "lib/cli/main.js"), 0o755);

await build({
  ...common,
  entryPoints: entries,
  outdir: join(dist, "lambda"),
  outbase: repoRoot,
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});
// The construct refuses to deploy an entry that is not in this list rather than guess.
writeFileSync(join(dist, "lambda", "entries.json"), `${JSON.stringify(entries, null, 2)}\n`);

await build({
  ...common,
  entryPoints: { listener: "functions/listener/main.ts", migrate: "functions/migrate/main.ts" },
  outdir: join(dist, "listener"),
});
mkdirSync(join(dist, "listener"), { recursive: true });
copyFileSync(join(repoRoot, "infra/listener/bundled.Dockerfile"), join(dist, "listener", "Dockerfile"));

process.stdout.write(`bundled ${entries.length} Lambda entries and the listener into dist/\n`);
