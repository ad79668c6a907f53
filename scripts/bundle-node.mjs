// The esbuild options every MeDUSA Link bundle for Node shares (the device agent,
// the Lambda handlers, the API server): one ESM file per entry, for Node 20,
// built from the packages' TypeScript sources.
export const nodeBundleOptions = ({ quiet = false, executable = false } = {}) => ({
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  minify: true,
  sourcemap: "linked",
  conditions: ["@medusa/source"],
  // Some bundled CommonJS dependencies call require(); give them one in ESM.
  banner: {
    js: `${executable ? "#!/usr/bin/env node\n" : ""}import { createRequire as __medusaRequire } from 'node:module'; const require = __medusaRequire(import.meta.url);`,
  },
  logLevel: quiet ? "silent" : "warning",
});
