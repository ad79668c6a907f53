import { describe, expect, it } from "vitest";
import { startDevice } from "./run.js";
import { jobsEmulation } from "./testing/jobs-emulation.js";
import { eventually, writeConfig } from "./testing/testbed.js";

// The agent against the local broker's Jobs emulation throttled far below AWS's rate:
// every request answered RequestThrottled is sent again after its back-off, not after
// the minute-long retry of a refused request.
const emulation = jobsEmulation(["pi-t1", "medusa-cloud"], {
  throttle: { requestsPerSecond: 2, burst: 1 },
});

describe("the agent's Jobs client when the service throttles it", () => {
  it("backs off and sends again until its jobs are done", async () => {
    const { config } = writeConfig(
      emulation.folder.dir,
      emulation.folder.certs,
      "pi-t1",
      emulation.broker.port,
    );
    const ids = ["th-1", "th-2", "th-3", "th-4"];
    for (const jobId of ids) await emulation.create("pi-t1", jobId, { operation: "outbox.flush" });
    const device = await startDevice(config, {
      log: () => {},
      shadow: { timeoutMs: 5_000, retryMs: 500, reportEveryMs: 60_000 },
      // A refused request would wait a minute: only the throttle back-off can finish in time.
      jobs: { timeoutMs: 5_000, retryMs: 60_000, throttleBaseMs: 100 },
    });
    try {
      const status = (jobId: string) => emulation.execution("pi-t1", jobId)?.status;
      await eventually(
        () => ids.every((id) => status(id) === "SUCCEEDED"),
        "all four jobs SUCCEEDED",
        20_000,
      );
      expect(emulation.broker.jobs?.stats().throttled).toBeGreaterThan(0);
      expect(device.agent.stats().jobs?.throttled).toBeGreaterThan(0);
    } finally {
      await device.stop();
    }
  });
});
