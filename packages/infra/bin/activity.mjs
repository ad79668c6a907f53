#!/usr/bin/env node
// medusa-activity from the built package (pnpm --filter @medusa/infra build); in the
// workspace, `pnpm --filter @medusa/infra activity …` runs the sources.
const { main } = await import("../dist/activity/cli.js");
process.exitCode = await main(process.argv.slice(2));
