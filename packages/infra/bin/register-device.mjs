#!/usr/bin/env node
// register-device from the built package (pnpm --filter @medusa/infra build); in the
// workspace, `pnpm --filter @medusa/infra register-device …` runs the sources.
const { main } = await import("../dist/register-device/cli.js");
process.exitCode = await main(process.argv.slice(2));
