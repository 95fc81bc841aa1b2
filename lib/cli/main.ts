#!/usr/bin/env node
/** `eventbus` CLI: placeholder until the CLI lands (owned by the sdk agent). */
process.stdout.write("eventbus\n");
