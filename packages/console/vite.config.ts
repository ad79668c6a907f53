import { defineConfig } from "vite";

// `vite build`: the production console (dist/), with no development sign-in in it.
// `vite build --mode localstack --outDir dist-local`: the local stack's, with it.
export default defineConfig({
  base: "/",
  build: {
    target: "es2022",
    sourcemap: false,
    reportCompressedSize: true,
    emptyOutDir: true,
  },
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
});
