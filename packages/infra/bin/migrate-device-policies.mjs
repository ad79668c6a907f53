#!/usr/bin/env node
// migrate-device-policies from the built package (pnpm --filter @medusa/infra build); in the
// workspace, `pnpm --filter @medusa/infra migrate-device-policies …` runs the sources.
const { migrateMain } = await import("../dist/register-device/migrate-policies-cli.js");
process.exitCode = await migrateMain(process.argv.slice(2));
