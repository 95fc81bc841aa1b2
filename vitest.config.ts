import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/postgres.ts", "test/setup/sqs.ts", "test/setup/dynamo.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Concurrent template clones contend on Postgres; two workers match the machine.
    maxWorkers: 2,
    // Node 20 is supported here; the SDK's notice about future versions is noise in test output.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  },
});
