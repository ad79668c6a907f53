#!/usr/bin/env node
// claim-certificate from the built package (pnpm --filter @medusa/infra build); in the
// workspace, `pnpm --filter @medusa/infra claim-certificate …` runs the sources.
const { main } = await import("../dist/claim-certificate/cli.js");
process.exitCode = await main(process.argv.slice(2));
