import { readFileSync } from "node:fs";
import { expect, it } from "vitest";
import { CONTEXT_KEYS } from "./settings.js";

it("the README shows the example verbatim, and it runs", async () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const example = readFileSync(new URL("../examples/synth-prod.ts", import.meta.url), "utf8");
  expect(readme).toContain(example.trim());
  await expect(import("../examples/synth-prod.js")).resolves.toBeDefined();
}, 300_000);

it("the README and the deploy guide name every context key the app reads", () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  const guide = readFileSync(new URL("../../../docs/deploy.md", import.meta.url), "utf8");
  for (const key of Object.keys(CONTEXT_KEYS)) {
    expect(readme, key).toContain(`\`${key}\``);
    expect(guide, key).toContain(`\`${key}\``);
  }
});
