#!/usr/bin/env node
// The API on Node, configured by environment variables (see the README). Runs the
// bundle: `pnpm --filter @medusa/api bundle`.
await import("../dist/medusa-api.mjs");
