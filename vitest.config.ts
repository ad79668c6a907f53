import { readdirSync } from "node:fs";
import { defineConfig } from "vitest/config";
import { intProject, unitProject } from "./vitest.shared.js";

// Every workspace package gets a fast (`<name>:unit`) and a slow (`<name>:int`) project.
const packages = readdirSync(new URL("./packages", import.meta.url), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);

/**
 * `MEDUSA_TEST_SCOPE=device`: only what runs on a device, the run on the
 * devices' Node.js floor (20.19): the domain, the agent, and the adapters it
 * uses (sensor, outbox, MQTT). The cloud side (Node 22 and newer) runs in the
 * full suite, which `npm test` runs on Node 24.
 */
const DEVICE_SIDE: Record<string, ReadonlyArray<string> | undefined> = {
  domain: undefined,
  device: undefined,
  adapters: ["src/sensor", "src/outbox", "src/mqtt", "src/shadow", "src/jobs"],
};
const deviceOnly = process.env.MEDUSA_TEST_SCOPE === "device";

export default defineConfig({
  test: {
    projects: packages
      .filter((name) => !deviceOnly || name in DEVICE_SIDE)
      .flatMap((name) => {
        const only = deviceOnly ? DEVICE_SIDE[name] : undefined;
        return [unitProject(name, only), intProject(name, only)];
      }),
  },
});
