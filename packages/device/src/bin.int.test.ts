import { fileURLToPath } from "node:url";
import { runCommand } from "@medusa/adapters/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bundle } from "../scripts/bundle.mjs";
import {
  eventually,
  recordSamples,
  startBroker,
  testFolder,
  writeConfig,
} from "./testing/testbed.js";

const bin = fileURLToPath(new URL("../bin/medusa-device.mjs", import.meta.url));
let folder: Awaited<ReturnType<typeof testFolder>>;
beforeAll(async () => {
  folder = await testFolder(["pi-bin"]);
  await bundle({ quiet: true }); // dist/medusa-device.mjs, what the bin runs
});
afterAll(() => folder.remove());

/** The installed command, as an operator runs it. */
const run = (args: ReadonlyArray<string>) => runCommand([bin, ...args]);

it("medusa-device --config FILE --check prints the resolved configuration, no secrets", async () => {
  const { path } = writeConfig(folder.dir, folder.certs, "pi-bin", 8883);
  const check = run(["--config", path, "--check"]);
  expect(await check.exited).toBe(0);
  expect(check.output()).toContain("device id          pi-bin (from client_id)");
  expect(check.output()).not.toContain("PRIVATE KEY");
});

it("medusa-device --config FILE runs the agent from the bundle and stops on SIGTERM with 0", async () => {
  const broker = await startBroker(folder.certs);
  try {
    const seen = recordSamples(broker);
    const { path } = writeConfig(folder.dir, folder.certs, "pi-bin", broker.port);
    const agent = run(["--config", path]);
    await eventually(() => seen.length >= 2, "two batches from the bundled agent", 30_000);
    agent.child.kill("SIGTERM");
    expect(await agent.exited).toBe(0);
    expect(agent.output()).toContain("medusa-device stopped");
  } finally {
    await broker.close();
  }
});
