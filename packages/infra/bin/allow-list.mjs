#!/usr/bin/env node
// allow-list from the built package (pnpm --filter @medusa/infra build); in the
// workspace, `pnpm --filter @medusa/infra allow-list …` runs the sources.
const { main } = await import("../dist/allow-list/cli.js");
process.exitCode = await main(process.argv.slice(2));
