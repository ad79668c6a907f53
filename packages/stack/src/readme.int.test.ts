import { readFileSync } from "node:fs";
import { expect, it } from "vitest";

it("the README shows the example verbatim, and it runs", async () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const example = readFileSync(new URL("../examples/assign-and-read.ts", import.meta.url), "utf8");
  expect(readme).toContain(example.trim());
  await expect(import("../examples/assign-and-read.js")).resolves.toBeDefined();
});
