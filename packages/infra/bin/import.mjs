#!/usr/bin/env node
// medusa-import from the built package (pnpm --filter @medusa/infra build); in the
// workspace, `pnpm --filter @medusa/infra run import …` runs the sources.
const { main } = await import("../dist/import/cli.js");
process.exitCode = await main(process.argv.slice(2));
