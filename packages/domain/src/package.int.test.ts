import { execFileSync } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";

// A consumer outside the workspace installs the packed package and gets
// JavaScript and types, with no build step of its own and no source condition.
const pkg = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "medusa-domain-consumer-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

it("packs, and a consumer imports @medusa/domain with types", () => {
  execFileSync("pnpm", ["pack", "--pack-destination", work], { cwd: pkg, stdio: "pipe" });
  const tarball = readdirSync(work).find((f) => f.endsWith(".tgz"));
  expect(tarball).toBeDefined();
  const modules = join(work, "consumer", "node_modules");
  mkdirSync(join(modules, "@medusa", "domain"), { recursive: true });
  execFileSync("tar", [
    "xzf",
    join(work, tarball as string),
    "-C",
    join(modules, "@medusa", "domain"),
    "--strip-components=1",
  ]);
  // The consumer's own dependency on effect, as npm would install it.
  symlinkSync(realpathSync(join(pkg, "node_modules", "effect")), join(modules, "effect"));
  const consumer = join(work, "consumer");
  writeFileSync(
    join(consumer, "package.json"),
    JSON.stringify({ name: "consumer", type: "module", private: true }),
  );
  writeFileSync(
    join(consumer, "main.ts"),
    `import { deviceId, topicFor, type DeviceId } from "@medusa/domain";
import { given } from "@medusa/domain/testing";
const id: DeviceId = deviceId("pi-7");
// @ts-expect-error a plain string is not a DeviceId
const wrong: DeviceId = "pi-7";
console.log(topicFor("medusa/{device_id}/status", id), typeof given, wrong.length);
`,
  );
  writeFileSync(
    join(consumer, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        module: "NodeNext",
        moduleResolution: "NodeNext",
        target: "ES2022",
        strict: true,
        outDir: "out",
        skipLibCheck: false,
        types: [],
      },
    }),
  );
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", consumer], { cwd: consumer, stdio: "pipe" });
  const out = execFileSync(process.execPath, [join(consumer, "out", "main.js")], {
    cwd: consumer,
  }).toString();
  expect(out.trim()).toBe("medusa/pi-7/status function 4");
});
