#!/usr/bin/env node
// Bundles the API's Node server into one ESM file, dist/medusa-api.mjs, what the
// `medusa-api` bin runs: Node.js and this file, nothing else to install.
import { statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { nodeBundleOptions } from "../../../scripts/bundle-node.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

export const bundle = async ({
  outfile = join(root, "dist", "medusa-api.mjs"),
  quiet = false,
} = {}) => {
  await build({
    entryPoints: [join(root, "src", "cli.ts")],
    outfile,
    ...nodeBundleOptions({ quiet, executable: true }),
  });
  const bytes = statSync(outfile).size;
  if (!quiet) console.log(`${outfile}  ${(bytes / 1024).toFixed(0)} KiB`);
  return { outfile, bytes };
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundle();
