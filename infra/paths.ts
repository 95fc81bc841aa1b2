import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = fileURLToPath(import.meta.url);

/**
 * True when the construct runs from the repository's TypeScript sources (tests, `npm run synth`); false
 * when it runs from the compiled package (`serverless-eventbus/cdk`, dist/infra/paths.js), where the Lambda code and
 * the listener come pre-bundled from dist/ (see infra/bundleAssets.ts).
 */
export const fromSources = here.endsWith(".ts");

/**
 * The package root: the repository root, or the installed package's directory (node_modules/serverless-eventbus).
 * From sources, Lambda entries, the listener's Docker build context and the lock file live here.
 */
export const repoRoot = fromSources ? join(dirname(here), "..") : join(dirname(here), "..", "..");

/** Pre-bundled Lambda handlers of the compiled package (one asset for all of them). */
export const lambdaBundleDir = join(repoRoot, "dist", "lambda");

/** The listener's pre-bundled build context (listener.mjs, migrate.mjs, Dockerfile). */
export const listenerBundleDir = join(repoRoot, "dist", "listener");

/** Handlers the construct deploys besides the route manifests' entries; the build bundles all of them. */
export const bundledLambdaEntries = [
  "functions/realtime/broadcaster.ts",
  "functions/migrate/handler.ts",
  "functions/metrics/publishSubscriptionMetrics.ts",
  "functions/registerSubscription/handler.ts",
];

/**
 * The package is ESM and some dependencies are still CommonJS; this shim gives their `require` calls a
 * working `require` inside an ESM bundle.
 */
export const esmRequireShim =
  "import { createRequire as __eventbusCreateRequire } from 'node:module'; const require = __eventbusCreateRequire(import.meta.url);";
