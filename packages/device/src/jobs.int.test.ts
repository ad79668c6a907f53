import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type LocalBroker, startLocalBroker } from "@medusa/adapters/broker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appliedSettingsPath, readAppliedSettings } from "./applied-settings.js";
import { markerPath, previousPath, sha256Hex } from "./bundle-update.js";
import { type RunningDevice, type StartOptions, startDevice } from "./run.js";
import { jobsPolicy, startJobsResponder } from "./testing/jobs-responder.js";
import { eventually, testFolder, writeConfig } from "./testing/testbed.js";

// The agent's Jobs client against the local broker (real TLS, real mqtt.js) and a scripted
// responder that answers with AWS's documented Jobs payloads and error codes.
const IDS = ["pi-j1", "pi-j2", "pi-j3", "pi-j4", "pi-j5", "pi-j6", "medusa-cloud"];
let folder: Awaited<ReturnType<typeof testFolder>>;
let broker: LocalBroker;
let jobs: Awaited<ReturnType<typeof startJobsResponder>>;
beforeAll(async () => {
  folder = await testFolder(IDS);
  broker = await startLocalBroker({
    port: 0,
    tls: { ca: folder.certs.ca, ...folder.certs.server },
    serviceIdentities: ["medusa-cloud"],
    // The scripted responder is the Jobs service here: the broker's own emulation is off.
    jobs: false,
    principalOf: jobsPolicy(IDS.filter((id) => id !== "medusa-cloud")),
  });
  jobs = await startJobsResponder(folder.certs, broker.port);
});
afterAll(async () => {
  await jobs?.close();
  await broker?.close();
  folder?.remove();
});

const lines: Array<string> = [];
const log = (entry: Record<string, unknown>) => lines.push(JSON.stringify(entry));
const fast: StartOptions = {
  log,
  shadow: { timeoutMs: 2_000, retryMs: 500, reportEveryMs: 60_000 },
  jobs: { timeoutMs: 2_000, retryMs: 200 },
};
const statusOf = (thing: string, jobId: string) => jobs.execution(thing, jobId)?.status;

describe("the agent's Jobs client", () => {
  it("subscribes first, then start-next with a step timeout; config.set applies valid settings through the applied-settings store and reports SUCCEEDED", async () => {
    const { config } = writeConfig(folder.dir, folder.certs, "pi-j1", broker.port);
    await jobs.createJob("pi-j1", "set-1", {
      operation: "config.set",
      settings: { publish: { interval_ms: 2000 } },
    });
    const device = await startDevice(config, fast);
    try {
      await eventually(() => statusOf("pi-j1", "set-1") === "SUCCEEDED", "set-1 SUCCEEDED");
      expect(device.agent.stats().publishIntervalMs).toBe(2000);
      expect(readAppliedSettings(appliedSettingsPath(config)).settings).toEqual({
        publishIntervalMs: 2000,
      });
      const first = jobs.requests.find((r) => r.topic.endsWith("/jobs/start-next"));
      expect(first?.body).toMatchObject({
        stepTimeoutInMinutes: 10,
        clientToken: expect.any(String),
      });
      const update = jobs.requests.find((r) => r.topic.endsWith("/set-1/update"));
      expect(update?.body).toMatchObject({
        status: "SUCCEEDED",
        expectedVersion: 2,
        statusDetails: { applied: "publishIntervalMs" },
      });
      // A job created while the agent runs arrives by notify-next.
      await jobs.createJob("pi-j1", "set-2", {
        operation: "config.set",
        settings: { sensor: { sample_rate_hz: 75 }, publish: { status_interval_ms: 5000 } },
      });
      await eventually(() => statusOf("pi-j1", "set-2") === "FAILED", "set-2 FAILED");
      const failed = jobs.execution("pi-j1", "set-2");
      expect(failed?.statusDetails.refused).toContain("sensor.sample_rate_hz");
      expect(failed?.statusDetails.applied).toBe("statusIntervalMs");
      expect(readAppliedSettings(appliedSettingsPath(config)).settings).toEqual({
        publishIntervalMs: 2000,
        statusIntervalMs: 5000,
      });
    } finally {
      await device.stop();
    }
  });

  it("REJECTS an unknown operation or an invalid document with the reason, and goes on with the next job", async () => {
    const { config } = writeConfig(folder.dir, folder.certs, "pi-j2", broker.port);
    await jobs.createJob("pi-j2", "odd-1", { operation: "firmware.flash" });
    await jobs.createJob("pi-j2", "odd-2", {
      operation: "agent.update",
      version: "9.9.9",
      url: "http://example.org/x.mjs",
      sha256: "00",
    });
    await jobs.createJob("pi-j2", "flush-1", { operation: "outbox.flush" });
    const device = await startDevice(config, fast);
    try {
      await eventually(() => statusOf("pi-j2", "flush-1") === "SUCCEEDED", "flush-1 done");
      expect(jobs.execution("pi-j2", "odd-1")).toMatchObject({
        status: "REJECTED",
        statusDetails: { reason: expect.stringContaining('unknown operation "firmware.flash"') },
      });
      expect(jobs.execution("pi-j2", "odd-2")?.statusDetails.reason).toContain("sha256");
      expect(jobs.execution("pi-j2", "flush-1")?.statusDetails).toMatchObject({
        held: expect.any(String),
        published: expect.any(String),
      });
      await eventually(() => device.agent.stats().jobs?.succeeded === 1, "the agent's count");
      expect(device.agent.stats().jobs).toMatchObject({ rejected: 2, succeeded: 1 });
    } finally {
      await device.stop();
    }
  });

  it("agent.restart: restarts, then reports SUCCEEDED from the restarted agent; a restart in the middle of a job resumes it", async () => {
    const { config } = writeConfig(folder.dir, folder.certs, "pi-j4", broker.port);
    let device: RunningDevice | undefined;
    let restarts = 0;
    const start = async (): Promise<RunningDevice> =>
      startDevice(config, {
        ...fast,
        restart: () => {
          restarts++;
          const old = device;
          void old?.stop().then(async () => {
            device = await start();
          });
        },
      });
    await jobs.createJob("pi-j4", "restart-1", { operation: "agent.restart" });
    device = await start();
    try {
      await eventually(() => statusOf("pi-j4", "restart-1") === "SUCCEEDED", "restart-1 SUCCEEDED");
      expect(restarts).toBe(1);
      expect(jobs.execution("pi-j4", "restart-1")?.statusDetails).toMatchObject({
        restarted: "true",
      });
      await eventually(
        () => !existsSync(join(config.outbox.path, "job-report.json")),
        "the saved report removed once the service has it",
      );

      // The service stops answering: the agent takes a job (IN_PROGRESS) but its report does not get through.
      await device.stop();
      jobs.setSilent(true);
      await jobs.createJob("pi-j4", "set-r", {
        operation: "config.set",
        settings: { publish: { interval_ms: 700 } },
      });
      // Taken IN_PROGRESS by hand, as a start-next whose answer was lost would have.
      const e = jobs.execution("pi-j4", "set-r");
      if (e) Object.assign(e, { status: "IN_PROGRESS", versionNumber: 2 });
      device = await start();
      await eventually(
        () =>
          jobs.requests.some(
            (r) => r.topic.endsWith("/jobs/start-next") && r.topic.includes("pi-j4"),
          ),
        "a start-next",
      );
      await device.stop();
      jobs.setSilent(false);
      device = await start();
      await eventually(
        () => statusOf("pi-j4", "set-r") === "SUCCEEDED",
        "set-r resumed and SUCCEEDED",
      );
      expect(device.agent.stats().publishIntervalMs).toBe(700);
    } finally {
      await device?.stop();
    }
  });

  it("agent.update with a bad checksum is FAILED and changes nothing; without a launcher it is REJECTED", async () => {
    const { https, url } = await serveFile(Buffer.from("export {};\n"));
    const bundle = join(folder.dir, "bundle-j5", "medusa-device.mjs");
    mkdirSync(dirname(bundle), { recursive: true });
    writeFileSync(bundle, "// the running bundle\n");
    const { config } = writeConfig(folder.dir, folder.certs, "pi-j5", broker.port, {
      outbox: `\n[jobs]\nupdate_ca_file = "${folder.certs.paths.ca}"\n`,
    });
    await jobs.createJob("pi-j5", "upd-bad", {
      operation: "agent.update",
      version: "0.2.0",
      url,
      sha256: sha256Hex(Buffer.from("something else")),
    });
    const device = await startDevice(config, { ...fast, bundle });
    try {
      await eventually(() => statusOf("pi-j5", "upd-bad") === "FAILED", "upd-bad FAILED");
      expect(jobs.execution("pi-j5", "upd-bad")?.statusDetails.reason).toMatch(
        /^sha256 mismatch: expected [0-9a-f]{64}, got [0-9a-f]{64} \(11 bytes\); nothing changed$/,
      );
      expect(readFileSync(bundle, "utf8")).toBe("// the running bundle\n");
      expect(existsSync(previousPath(bundle))).toBe(false);
      expect(existsSync(markerPath(bundle))).toBe(false);
    } finally {
      await device.stop();
    }
    // An agent not started by the launcher has no bundle to replace: REJECTED, not a crash.
    await jobs.createJob("pi-j5", "upd-nolauncher", {
      operation: "agent.update",
      version: "0.2.0",
      url,
      sha256: sha256Hex(Buffer.from("export {};\n")),
    });
    const plain = await startDevice(config, { ...fast, bundle: join(folder.dir, "no-such.mjs") });
    try {
      await eventually(() => statusOf("pi-j5", "upd-nolauncher") === "REJECTED", "REJECTED");
      expect(jobs.execution("pi-j5", "upd-nolauncher")?.statusDetails.reason).toContain(
        "medusa-launcher",
      );
    } finally {
      await plain.stop();
      https.close();
    }
  });
});

/** An https server on 127.0.0.1 with the development CA's server certificate, serving one file. */
const serveFile = async (body: Buffer) => {
  const { createServer } = await import("node:https");
  const https = createServer({ ...folder.certs.server }, (_req, res) => {
    res.writeHead(200, { "content-length": body.length });
    res.end(body);
  });
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
  const address = https.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { https, url: `https://127.0.0.1:${port}/agent/medusa-device-0.2.0.mjs` };
};
