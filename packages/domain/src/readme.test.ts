import { readFileSync } from "node:fs";
import { expect, it } from "vitest";

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const example = readFileSync(new URL("../examples/worked-example.ts", import.meta.url), "utf8");

it("the README shows the worked example verbatim", () => {
  expect(readme).toContain(example.trim());
});

it("the worked example runs (its assertions hold)", async () => {
  await expect(import("../examples/worked-example.js")).resolves.toBeDefined();
});
