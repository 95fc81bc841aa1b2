#!/usr/bin/env node
/**
 * Run by `npm pack` / `npm publish` (`prepack` strips, `postpack` restores): the published package.json
 * leaves out this repository's own `prepare` script (patch-package, which applies patches/ after `npm ci`
 * here). Shipped, it made npm 11 warn every user on install about an install script not covered by
 * `allowScripts`, although npm never runs `prepare` for a registry or tarball dependency. npm reads
 * package.json for the tarball after `prepack`, so removing the line then is enough.
 *
 * Both steps edit that one line in place rather than rewriting the file from a copy, so that anything else
 * changed in package.json meanwhile (an `npm install` in another terminal) is kept; and they replace the
 * file by a rename, so that a process reading package.json at that moment (a test run next to the pack
 * test) sees the old or the new file, never an empty one.
 */
import { readFileSync, renameSync, writeFileSync } from "node:fs";

const file = new URL("../package.json", import.meta.url);
const script = "patch-package";
const line = `    "prepare": ${JSON.stringify(script)},\n`;
const anchor = '    "prepack": ';

/** Writes package.json whole or not at all. */
const replace = (content) => {
  const temporary = new URL(`../package.json.${process.pid}.tmp`, import.meta.url);
  writeFileSync(temporary, content);
  renameSync(temporary, file);
};

const fail = (message) => {
  process.stderr.write(`packManifest: ${message}\n`);
  process.exit(1);
};

const text = readFileSync(file, "utf8");
const mode = process.argv[2];
if (mode === "strip") {
  const prepare = JSON.parse(text).scripts?.prepare;
  if (prepare === undefined) process.exit(0);
  if (prepare !== script || !text.includes(line)) {
    fail(
      `package.json's prepare script is not the expected ${JSON.stringify(script)}: update bin/packManifest.mjs`,
    );
  }
  replace(text.replace(line, ""));
} else if (mode === "restore") {
  if (JSON.parse(text).scripts?.prepare !== undefined) process.exit(0);
  if (!text.includes(anchor)) fail("no prepack script to put the prepare script back before");
  replace(text.replace(anchor, `${line}${anchor}`));
} else {
  fail("usage: node bin/packManifest.mjs strip|restore");
}
