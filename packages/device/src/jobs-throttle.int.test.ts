import { type LocalBroker, startLocalBroker } from "@medusa/adapters/broker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevice } from "./run.js";
import { eventually, testFolder, writeConfig } from "./testing/testbed.js";

// The agent against the local broker's Jobs emulation throttled far below AWS's rate:
// every request answered RequestThrottled is sent again after its back-off, not after
// the minute-long retry of a refused request.
const IDS = ["pi-t1", "medusa-cloud"];
let folder: Awaited<ReturnType<typeof testFolder>>;
let broker: LocalBroker;
beforeAll(async () => {
  folder = await testFolder(IDS);
  broker = await startLocalBroker({
    port: 0,
    tls: { ca: folder.certs.ca, ...folder.certs.server },
    serviceIdentities: ["medusa-cloud"],
    jobs: { throttle: { requestsPerSecond: 2, burst: 1 } },
  });
});
afterAll(async () => {
  await broker?.close();
  folder?.remove();
});

describe("the agent's Jobs client when the service throttles it", () => {
  it("backs off and sends again until its jobs are done", async () => {
    const { config } = writeConfig(folder.dir, folder.certs, "pi-t1", broker.port);
    const ids = ["th-1", "th-2", "th-3", "th-4"];
    for (const jobId of ids) {
      const created = await broker.jobs?.createJob({
        jobId,
        targets: ["pi-t1"],
        document: JSON.stringify({ operation: "outbox.flush" }),
      });
      expect(created?.ok).toBe(true);
    }
    const device = await startDevice(config, {
      log: () => {},
      shadow: { timeoutMs: 5_000, retryMs: 500, reportEveryMs: 60_000 },
      // A refused request would wait a minute: only the throttle back-off can finish in time.
      jobs: { timeoutMs: 5_000, retryMs: 60_000, throttleBaseMs: 100 },
    });
    try {
      const status = (jobId: string) => {
        const r = broker.jobs?.describeJobExecution(jobId, "pi-t1");
        return r?.ok ? r.value.execution.status : undefined;
      };
      await eventually(
        () => ids.every((id) => status(id) === "SUCCEEDED"),
        "all four jobs SUCCEEDED",
        20_000,
      );
      expect(broker.jobs?.stats().throttled).toBeGreaterThan(0);
      expect(device.agent.stats().jobs?.throttled).toBeGreaterThan(0);
    } finally {
      await device.stop();
    }
  });
});
