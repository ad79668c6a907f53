import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, expect, it } from "vitest";
import { BUNDLED_FUNCTIONS } from "./bundles.js";

const pkg = fileURLToPath(new URL("..", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "medusa-synth-home-"));
const out = mkdtempSync(join(tmpdir(), "medusa-synth-out-"));
afterAll(() => {
  rmSync(home, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

it("`pnpm --filter @medusa/infra synth` bundles and synthesizes with no AWS credentials", async () => {
  const { scripts } = JSON.parse(readFileSync(join(pkg, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  expect(scripts.synth).toBe("tsx --conditions=@medusa/source src/app.ts");
  // The script's command, in an environment with no AWS variables and an empty home (no ~/.aws).
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !/^(AWS_|CDK_)/.test(k)),
  );
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", "--conditions=@medusa/source", "src/app.ts", "-c", "stage=prod"],
    {
      cwd: pkg,
      env: { ...env, HOME: home, CDK_OUTDIR: out },
      encoding: "utf8",
      // Bundling every function and synthesizing take over two minutes on a loaded machine.
      timeout: 300_000,
    },
  );
  expect(run.stderr).not.toMatch(/Error/);
  expect(run.status).toBe(0);

  const template = JSON.parse(readFileSync(join(out, "MedusaLink-prod.template.json"), "utf8")) as {
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  };
  const assets = JSON.parse(readFileSync(join(out, "MedusaLink-prod.assets.json"), "utf8")) as {
    files: Record<string, { source: { path: string } }>;
  };
  const functions = Object.values(template.Resources).filter(
    (r) =>
      r.Type === "AWS::Lambda::Function" && String(r.Properties.FunctionName).startsWith("medusa-"),
  );
  // Every function bundles.ts builds (the table-access handlers and the others), each once.
  expect(functions.map((f) => f.Properties.Handler).sort()).toEqual(
    BUNDLED_FUNCTIONS.map((name) => `${name}.handler`).sort(),
  );
  // Each function's asset is its own bundle: one ESM file that exports `handler`.
  for (const fn of functions) {
    const name = String(fn.Properties.Handler).replace(".handler", "");
    const key = String((fn.Properties.Code as { S3Key: string }).S3Key).replace(".zip", "");
    const source = assets.files[key]?.source.path;
    expect(source, name).toBeDefined();
    const dir = join(out, source as string);
    expect(readdirSync(dir)).toEqual([`${name}.mjs`]);
    if (name === "ingest" || name === "activity") {
      const bundled = await import(pathToFileURL(join(dir, `${name}.mjs`)).href);
      expect(typeof bundled.handler).toBe("function");
    }
  }
}, 330_000);
