#!/usr/bin/env node
// Bundles each Lambda handler into one ESM file, dist/<name>.mjs, exporting `handler`.
// The AWS SDK is bundled too: the function then runs exactly the SDK version
// the tests ran, not whatever the Lambda runtime happens to ship.
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { nodeBundleOptions } from "../../../scripts/bundle-node.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entries = {
  ingest: "src/handlers/ingest.ts",
  reattribute: "src/handlers/reattribute.ts",
  presence: "src/handlers/presence.ts",
  "gap-detector": "src/handlers/gap-detector.ts",
  activity: "src/handlers/activity.ts",
  api: "src/api-handler.ts",
  provisioning: "src/handlers/pre-provisioning.ts",
  "certificate-retirement": "src/handlers/certificate-retirement.ts",
  "rotation-hook": "src/handlers/rotation-hook.ts",
};

export const bundle = async ({ outdir = join(root, "dist"), quiet = false } = {}) => {
  const present = Object.fromEntries(
    Object.entries(entries).filter(([, file]) => existsSync(join(root, file))),
  );
  await build({
    entryPoints: Object.fromEntries(
      Object.entries(present).map(([name, file]) => [name, join(root, file)]),
    ),
    outdir,
    outExtension: { ".js": ".mjs" },
    ...nodeBundleOptions({ quiet }),
  });
  const sizes = Object.keys(present).map((name) => ({
    name,
    bytes: statSync(join(outdir, `${name}.mjs`)).size,
  }));
  if (!quiet)
    for (const s of sizes) console.log(`dist/${s.name}.mjs  ${(s.bytes / 1024).toFixed(0)} KiB`);
  return sizes;
};

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundle();
