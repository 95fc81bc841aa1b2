import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { esbuildOptions } from "./bundleHandlers.ts";
import { fromSources, listenerBundleDir, repoRoot } from "./paths.ts";

/** The module name the listener loads operators from inside the image (`EVENTBUS_OPERATORS_MODULE`). */
export const OPERATORS_MODULE_IN_IMAGE = "operators.mjs";

const dockerfile = `# Staged by the EventBus construct: the bus's listener plus the application's operators module.
FROM node:22-bookworm-slim
ENV NODE_ENV=production \\
  NODE_OPTIONS=--enable-source-maps \\
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true \\
  EVENTBUS_OPERATORS_MODULE=${OPERATORS_MODULE_IN_IMAGE}
WORKDIR /app
COPY . ./
USER node
CMD ["node", "listener.mjs"]
`;

/**
 * esbuild: the repository's own from the sources; installed, the one of the CDK app's project (as
 * `NodejsFunction` needs for consumers), with a clear message when it is missing.
 */
function loadEsbuild(): typeof import("esbuild") {
  const from = fromSources ? import.meta.url : join(process.cwd(), "package.json");
  try {
    return createRequire(from)("esbuild") as typeof import("esbuild");
  } catch {
    throw new Error(
      "EventBus `operators` are bundled into the listener image with esbuild at synth: install it in the CDK app's project (npm install --save-dev esbuild).",
    );
  }
}

/**
 * Stages the build context of a listener image that also runs the application's operators: the bus's
 * listener as one ESM file (from the sources, bundled now; installed, the package's pre-built one), the
 * module at `entry` (`export default [defineOperator(...)]`, absolute or relative to the CDK app's
 * directory) bundled with everything it imports into `operators.mjs`, and a Dockerfile that points
 * `EVENTBUS_OPERATORS_MODULE` at it. Synchronous, as construct code is; returns the directory.
 */
export function stageListenerWithOperators(entry: string): string {
  const esbuild = loadEsbuild();
  const dir = mkdtempSync(join(tmpdir(), "eventbus-listener-"));
  // The bus's own bundling options (infra/bundleHandlers.ts), one file per entry.
  const options = { ...esbuildOptions, outdir: dir };
  if (fromSources) {
    esbuild.buildSync({
      ...options,
      absWorkingDir: repoRoot,
      entryPoints: { listener: "functions/listener/main.ts" },
    });
  } else {
    for (const file of ["listener.mjs", "listener.mjs.map"]) {
      copyFileSync(join(listenerBundleDir, file), join(dir, file));
    }
  }
  esbuild.buildSync({
    ...options,
    absWorkingDir: process.cwd(),
    entryPoints: { operators: isAbsolute(entry) ? entry : resolve(entry) },
  });
  writeFileSync(join(dir, "Dockerfile"), dockerfile);
  return dir;
}
