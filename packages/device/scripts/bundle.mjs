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
  // The agent's version as it reports it (the sources say 0.1.0); tests build others.
  version = undefined,
} = {}) => {
  await build({
    entryPoints: [join(root, "src", "main.ts")],
    outfile,
    ...nodeBundleOptions({ quiet, executable: true }),
    external: ["i2c-bus"],
    ...(version === undefined
      ? {}
      : { define: { __MEDUSA_AGENT_VERSION__: JSON.stringify(version) } }),
  });
  const bytes = statSync(outfile).size;
  if (!quiet) console.log(`${outfile}  ${(bytes / 1024).toFixed(0)} KiB`);
  return { outfile, bytes };
};

// The launcher systemd runs: small, Node's modules only, never replaced by agent.update.
export const bundleLauncher = async ({
  outfile = join(root, "dist", "medusa-launcher.mjs"),
  quiet = false,
} = {}) => {
  await build({
    entryPoints: [join(root, "src", "launcher.ts")],
    outfile,
    ...nodeBundleOptions({ quiet, executable: true }),
  });
  const bytes = statSync(outfile).size;
  if (!quiet) console.log(`${outfile}  ${(bytes / 1024).toFixed(0)} KiB`);
  return { outfile, bytes };
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // `--agent-version V`: a bundle that reports V (an agent.update to try in the local stack).
  const at = process.argv.indexOf("--agent-version");
  const version = at > 0 ? process.argv[at + 1] : undefined;
  if (at > 0 && !/^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/.test(version ?? "")) {
    console.error("--agent-version V: 1-64 characters of [0-9A-Za-z.+-]");
    process.exit(2);
  }
  await bundle(version === undefined ? {} : { version });
  await bundleLauncher();
}
