#!/usr/bin/env node
// The device agent (see the README). Runs the bundle: `pnpm --filter @medusa/device bundle`.
await import("../dist/medusa-device.mjs");
