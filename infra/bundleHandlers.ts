import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { BuildOptions } from "esbuild";
import { httpRoutes } from "../functions/http/routes.ts";
import { wsRoutes } from "../functions/ws/routes.ts";
import { buildConsoleAssetsSync } from "../lib/console/serveConsole.ts";
import { bundledLambdaEntries, esmRequireShim, repoRoot } from "./paths.ts";

/** Every Lambda handler of the bus: the route manifests' entries and the other functions the construct adds. */
export const busLambdaEntries: readonly string[] = [
  ...new Set([...httpRoutes, ...wsRoutes].map((route) => route.entry).concat(bundledLambdaEntries)),
];

/** How the bus's code is bundled for Lambda and for the listener image. */
export const esbuildOptions: BuildOptions = {
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

/**
 * Bundles every handler of the bus into `outdir` in one esbuild run, as ESM with shared chunks: each
 * handler keeps its path (`functions/http/appendEvents.mjs`) and loads only the chunks it imports. One run
 * for ~40 functions instead of one each keeps synth fast, and every function deploys the same asset, which
 * CDK uploads once. Synchronous, as CDK's local bundling is; esbuild (a dev dependency) is loaded only here,
 * so the installed package, which ships this output pre-built, never needs it.
 */
export function bundleLambdaHandlers(outdir: string, entries: readonly string[] = busLambdaEntries): void {
  const esbuild = createRequire(import.meta.url)("esbuild") as typeof import("esbuild");
  esbuild.buildSync({
    ...esbuildOptions,
    entryPoints: [...entries],
    outdir,
    outbase: repoRoot,
    splitting: true,
    chunkNames: "chunks/[name]-[hash]",
    // The web console's page, script and styles, compiled into its function (functions/http/console.ts).
    define: {
      __EVENTBUS_CONSOLE_ASSETS__: JSON.stringify(Object.fromEntries(buildConsoleAssetsSync())),
    },
    // Only the sources' fallback imports esbuild (to bundle the console on the fly); the bundle never does.
    external: ["esbuild"],
  });
  // The list of what the asset holds: the construct deploys only these entries from it.
  writeFileSync(join(outdir, "entries.json"), `${JSON.stringify(entries, null, 2)}\n`);
}
