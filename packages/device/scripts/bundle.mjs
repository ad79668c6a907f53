#!/usr/bin/env node
// Bundles the agent into one ESM file, dist/medusa-device.mjs: what a device
// needs besides Node.js. i2c-bus is a native module and stays outside: install
// it beside the bundle on a device with the chip (see the README).
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { nodeBundleOptions } from "../../../scripts/bundle-node.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export const bundle = async ({
  outfile = join(root, "dist", "medusa-device.mjs"),
  quiet = false,
} = {}) => {
  await build({
    entryPoints: [join(root, "src", "main.ts")],
    outfile,
    ...nodeBundleOptions({ quiet, executable: true }),
    external: ["i2c-bus"],
  });
  const bytes = statSync(outfile).size;
  if (!quiet) console.log(`${outfile}  ${(bytes / 1024).toFixed(0)} KiB`);
  return { outfile, bytes };
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundle();
