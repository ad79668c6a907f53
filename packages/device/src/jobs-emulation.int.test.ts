import { describe, expect, it } from "vitest";
import { type RunningDevice, type StartOptions, startDevice } from "./run.js";
import { jobsEmulation } from "./testing/jobs-emulation.js";
import { eventually, writeConfig } from "./testing/testbed.js";

// The agent against the local broker's Jobs emulation (AWS IoT Jobs as the local stack runs it),
// with the IoT policy's own rights for the Jobs topics: no scripted responder.
const emulation = jobsEmulation(["pi-e1", "pi-e2", "medusa-cloud"]);
const { create, execution } = emulation;

const fast: StartOptions = {
  log: () => {},
  shadow: { timeoutMs: 2_000, retryMs: 500, reportEveryMs: 60_000 },
  jobs: { timeoutMs: 2_000, retryMs: 200 },
};
describe("the agent's Jobs client against the local broker's Jobs emulation", () => {
  it("config.set SUCCEEDED, an unknown operation REJECTED, outbox.flush SUCCEEDED", async () => {
    const { config } = writeConfig(
      emulation.folder.dir,
      emulation.folder.certs,
      "pi-e1",
      emulation.broker.port,
    );
    await create("pi-e1", "emu-set", {
      operation: "config.set",
      settings: { publish: { interval_ms: 2000 } },
    });
    await create("pi-e1", "emu-odd", { operation: "firmware.flash" });
    const device = await startDevice(config, fast);
    try {
      await eventually(() => execution("pi-e1", "emu-odd")?.status === "REJECTED", "emu-odd");
      expect(execution("pi-e1", "emu-set")?.status).toBe("SUCCEEDED");
      expect(execution("pi-e1", "emu-odd")?.statusDetails?.reason).toContain("unknown operation");
      expect(device.agent.stats().publishIntervalMs).toBe(2000);
      // Created while the agent runs: notify-next brings it.
      await create("pi-e1", "emu-flush", { operation: "outbox.flush" });
      await eventually(() => execution("pi-e1", "emu-flush")?.status === "SUCCEEDED", "emu-flush");
    } finally {
      await device.stop();
    }
  });

  it("agent.restart: SUCCEEDED from the restarted agent", async () => {
    const { config } = writeConfig(
      emulation.folder.dir,
      emulation.folder.certs,
      "pi-e2",
      emulation.broker.port,
    );
    let device: RunningDevice | undefined;
    const start = async (): Promise<RunningDevice> =>
      startDevice(config, {
        ...fast,
        restart: () => {
          const old = device;
          void old?.stop().then(async () => {
            device = await start();
          });
        },
      });
    await create("pi-e2", "emu-restart", { operation: "agent.restart" });
    device = await start();
    try {
      await eventually(
        () => execution("pi-e2", "emu-restart")?.status === "SUCCEEDED",
        "emu-restart SUCCEEDED",
      );
      expect(execution("pi-e2", "emu-restart")?.statusDetails).toMatchObject({ restarted: "true" });
    } finally {
      await device?.stop();
    }
  });
});
