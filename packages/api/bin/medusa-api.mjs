#!/usr/bin/env node
// The API on Node, configured by environment variables (see the README). Runs the built package.
await import("../dist/cli.js");
