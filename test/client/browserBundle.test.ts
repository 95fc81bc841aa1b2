import { build, type Plugin } from "esbuild";
import { describe, expect, it } from "vitest";

/**
 * What package.json's `browser` field does for bundlers: `nodeWebSocket.ts` (the `ws` fallback for Node 20)
 * becomes an empty module.
 */
const browserField: Plugin = {
  name: "browser-field",
  setup(builder) {
    builder.onResolve({ filter: /nodeWebSocket\.ts$/ }, () => ({
      path: "nodeWebSocket",
      namespace: "empty",
    }));
    builder.onLoad({ filter: /.*/, namespace: "empty" }, () => ({
      contents: "export const nodeWebSocket = undefined;",
    }));
  },
};

describe("serverless-eventbus/client in a browser bundle", () => {
  it("bundles for the browser with no Node built-in and no ws", async () => {
    const result = await build({
      entryPoints: ["lib/client/index.ts"],
      bundle: true,
      platform: "browser",
      format: "esm",
      target: "es2022",
      write: false,
      metafile: true,
      logLevel: "silent",
      plugins: [browserField],
    });
    // esbuild refuses `node:*` and Node built-ins on the browser platform, so getting here proves the first.
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((input) => input.includes("node_modules"))).toEqual([]);
    expect(inputs.some((input) => input.endsWith("lib/client/realtime.ts"))).toBe(true);
    const code = result.outputFiles[0]!.text;
    // Node globals a browser lacks, which esbuild would leave in place without complaint.
    expect(code.match(/\b(Buffer|process|require)\b/g) ?? []).toEqual([]);
    expect(code.length).toBeLessThan(100_000);
  });
});
