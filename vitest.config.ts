import { readdirSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { intProject, unitProject } from "./vitest.shared.js";

// Every workspace package gets a fast (`<name>:unit`) and a slow (`<name>:int`) project.
const packages = readdirSync(new URL("./packages", import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

export default defineConfig({
  test: {
    projects: packages.flatMap((name) => [unitProject(name), intProject(name)]),
  },
});
