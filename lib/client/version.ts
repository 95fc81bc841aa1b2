/**
 * This package's version (package.json `version`), compiled in so that every build of it (browser bundle,
 * Lambda bundles, CLI) knows it without reading package.json at run time. test/cli/cli.test.ts fails when
 * the two differ; `npm version` updates it (bin/syncVersion.mjs).
 */
export const VERSION = "0.1.0";
