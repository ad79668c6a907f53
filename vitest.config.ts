import { defineConfig } from "vitest/config";
import { intProject, unitProject } from "./vitest.shared.js";

const packages = ["domain", "adapters", "device", "api", "lambda"];

export default defineConfig({
  test: {
    projects: packages.flatMap((name) => [unitProject(name), intProject(name)]),
  },
});
