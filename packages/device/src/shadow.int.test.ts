import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { DevCertFiles } from "@medusa/adapters/broker";
import {
  fileShadowPersistence,
  type LocalBroker,
  ShadowService,
  startLocalBroker,
} from "@medusa/adapters/broker";
import { ReportedDeviceState } from "@medusa/domain";
import { Schema } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  appliedSettingsPath,
  describeAppliedSettings,
  readAppliedSettings,
} from "./applied-settings.js";
import { type RunningDevice, startDevice } from "./run.js";
import { eventually, sleep, testFolder, writeConfig } from "./testing/testbed.js";

// The agent against the local broker's Device Shadow service (AWS IoT Core's, emulated):
// real TLS, the IoT policy's rights, the shadow's documented answers.
const IDS = ["pi-s1", "pi-s2", "pi-s3", "pi-s4", "pi-s5", "pi-s6", "medusa-cloud"];
let folder: Awaited<ReturnType<typeof testFolder>>;
beforeAll(async () => {
  folder = await testFolder(IDS);
});
afterAll(() => folder.remove());

const lines: Array<string> = [];
const log = (entry: Record<string, unknown>) => lines.push(JSON.stringify(entry));
const fast = { timeoutMs: 2_000, retryMs: 200, reportEveryMs: 60_000 };

const broker = (certs: DevCertFiles, options: { port?: number; file?: string } = {}) =>
  startLocalBroker({
    port: options.port ?? 0,
    tls: { ca: certs.ca, ...certs.server },
    serviceIdentities: ["medusa-cloud"],
    shadows: options.file
      ? { persistence: fileShadowPersistence(options.file, { fsync: false }) }
      : {},
  });

const reportedOf = (b: LocalBroker, thing: string) => {
  const reported = b.shadows?.peek({ thing })?.state.reported;
  return reported === undefined
    ? undefined
    : Schema.decodeUnknownSync(ReportedDeviceState)(reported);
};
const desire = async (b: LocalBroker, thing: string, desired: unknown) => {
  const answer = await b.shadows?.update({ thing }, JSON.stringify({ state: { desired } }));
  expect(answer?.status).toBe(200);
};

describe("the agent's shadow sync", () => {
  it("reports its state on connect; takes valid desired values, refuses the others with reasons, leaves no delta for what it took", async () => {
    const b = await broker(folder.certs);
    const { config } = writeConfig(folder.dir, folder.certs, "pi-s1", b.port, { intervalMs: 200 });
    let device: RunningDevice | undefined;
    try {
      device = await startDevice(config, { log, shadow: fast });
      await eventually(() => reportedOf(b, "pi-s1") !== undefined, "the first report");
      const first = reportedOf(b, "pi-s1");
      expect(first).toMatchObject({
        agent: { version: expect.any(String) },
        sensor: { model: expect.any(String), healthy: true, sample_rate_hz: 50 },
        publish: {
          interval_ms: 200,
          status_interval_ms: 1000,
          effective_interval_ms: 200,
          basic_ingest: false,
        },
        outbox: { depth: expect.any(Number), drops: 0 },
        refused: [],
      });
      await desire(b, "pi-s1", {
        sensor: { sample_rate_hz: 75 },
        publish: { interval_ms: 2000, status_interval_ms: 5, colour: "red" },
      });
      await eventually(
        () => reportedOf(b, "pi-s1")?.publish.interval_ms === 2000,
        "the new interval reported",
      );
      const reported = reportedOf(b, "pi-s1");
      expect(reported?.refused).toEqual([
        {
          setting: "sensor.sample_rate_hz",
          reason: expect.stringContaining("sample_rate_hz must be"),
        },
        {
          setting: "publish.status_interval_ms",
          reason: "status_interval_ms must be between 1000 and 3600000",
        },
        { setting: "publish.colour", reason: "not a setting the agent takes" },
      ]);
      expect(reported?.sensor.sample_rate_hz).toBe(50);
      expect(device.agent.stats().publishIntervalMs).toBe(2000);
      // What it took leaves no delta; what it refused still differs.
      const record = b.shadows?.peek({ thing: "pi-s1" });
      expect(record?.state.reported?.publish).toMatchObject({
        interval_ms: 2000,
        status_interval_ms: 1000,
      });
      expect(readAppliedSettings(appliedSettingsPath(config)).settings).toEqual({
        publishIntervalMs: 2000,
      });
    } finally {
      await device?.stop();
      await b.close();
    }
  });

  it("a desired change made while the device is offline is applied when it reconnects; a restart keeps it (also against an empty shadow), --check shows it", async () => {
    const file = join(folder.dir, "shadows-offline.jsonl");
    let b = await broker(folder.certs, { file });
    const port = b.port;
    const { config } = writeConfig(folder.dir, folder.certs, "pi-s2", port, {
      intervalMs: 200,
      rateHz: 50,
    });
    let device: RunningDevice | undefined = await startDevice(config, { log, shadow: fast });
    try {
      await eventually(() => reportedOf(b, "pi-s2") !== undefined, "the first report");
      await b.close();
      await eventually(() => !device?.transport.connected, "the device offline");
      // The cloud changes the desired state while the device cannot hear it (the data plane, on the same shadows).
      const offline = new ShadowService({
        persistence: fileShadowPersistence(file, { fsync: false }),
        publish: () => {},
      });
      expect(
        (
          await offline.update(
            { thing: "pi-s2" },
            JSON.stringify({
              state: { desired: { sensor: { sample_rate_hz: 25 }, publish: { interval_ms: 500 } } },
            }),
          )
        ).status,
      ).toBe(200);
      await offline.close();
      b = await broker(folder.certs, { port, file });
      await eventually(
        () => reportedOf(b, "pi-s2")?.publish.interval_ms === 500,
        "the change reported after reconnecting",
      );
      expect(reportedOf(b, "pi-s2")?.sensor.sample_rate_hz).toBe(25);
      expect(device.agent.stats()).toMatchObject({ sampleRateHz: 25, publishIntervalMs: 500 });
      await device.stop();
      await b.close();

      // Restarted where the shadow cannot be reached: the applied settings win over the file at once.
      b = await broker(folder.certs, { port });
      const again: RunningDevice = await startDevice(config, { log, shadow: fast });
      device = again;
      expect(again.agent.stats()).toMatchObject({ sampleRateHz: 25, publishIntervalMs: 500 });
      const check = describeAppliedSettings(
        config,
        appliedSettingsPath(config),
        readAppliedSettings(appliedSettingsPath(config)),
        Date.now(),
      );
      expect(check.join("\n")).toContain("sensor.sample_rate_hz = 25 (the file says 50)");
      expect(check.join("\n")).toContain("publish.interval_ms = 500 (the file says 200)");
      // Against a shadow that asks nothing, it keeps them and reports them.
      await eventually(
        () => reportedOf(b, "pi-s2")?.publish.interval_ms === 500,
        "the kept settings reported",
      );
      expect(JSON.parse(readFileSync(appliedSettingsPath(config), "utf8"))).toEqual({
        sensor: { sample_rate_hz: 25 },
        publish: { interval_ms: 500 },
      });
    } finally {
      await device?.stop();
      await b.close();
    }
  });

  it("a report refused with 409 (the desired state changed meanwhile) is recovered by a fresh get", async () => {
    const b = await broker(folder.certs);
    const { config } = writeConfig(folder.dir, folder.certs, "pi-s3", b.port, { intervalMs: 200 });
    let conflicts = 0;
    let device: RunningDevice | undefined;
    // Just before the device's first versioned report is handled, the cloud changes the desired state.
    b.aedes.prependListener("publish", (packet, client) => {
      if (client?.id !== "pi-s3" || packet.topic !== "$aws/things/pi-s3/shadow/update") return;
      const request = JSON.parse(packet.payload.toString()) as { version?: number };
      if (request.version === undefined || conflicts > 0) return;
      conflicts++;
      void b.shadows?.update(
        { thing: "pi-s3" },
        JSON.stringify({ state: { desired: { publish: { interval_ms: 1500 } } } }),
      );
    });
    try {
      await desire(b, "pi-s3", { publish: { interval_ms: 300 } });
      device = await startDevice(config, { log, shadow: fast });
      await eventually(
        () => reportedOf(b, "pi-s3")?.publish.interval_ms === 1500,
        "the fresh desired value reported",
      );
      expect(conflicts).toBe(1);
      expect(device.agent.stats().shadow?.conflicts).toBeGreaterThanOrEqual(1);
      expect(device.agent.stats().publishIntervalMs).toBe(1500);
      expect(b.shadows?.peek({ thing: "pi-s3" })?.state.desired).toEqual({
        publish: { interval_ms: 1500 },
      });
    } finally {
      await device?.stop();
      await b.close();
    }
  });

  it("live mode: a short interval until a time, then back to the device's own by itself, even offline", async () => {
    const b = await broker(folder.certs);
    const { config } = writeConfig(folder.dir, folder.certs, "pi-s4", b.port, { intervalMs: 2000 });
    let device: RunningDevice | undefined;
    try {
      device = await startDevice(config, { log, shadow: fast });
      await eventually(() => reportedOf(b, "pi-s4") !== undefined, "the first report");
      const until = Date.now() + 2_500;
      await desire(b, "pi-s4", { publish: { live_interval_ms: 100, live_until: until } });
      await eventually(() => device?.agent.stats().publishIntervalMs === 100, "live mode on");
      await eventually(
        () => reportedOf(b, "pi-s4")?.publish.effective_interval_ms === 100,
        "live mode reported",
      );
      expect(reportedOf(b, "pi-s4")?.publish).toMatchObject({
        interval_ms: 2000,
        live_interval_ms: 100,
        live_until: until,
      });
      await b.close();
      await eventually(() => !device?.transport.connected, "the device offline");
      await sleep(Math.max(0, until - Date.now()) + 100);
      expect(device.agent.stats().publishIntervalMs).toBe(2000);
    } finally {
      await device?.stop();
      await b.close();
    }
  });

  it("shadow.enabled = false (a broker without a shadow service): the agent runs and publishes, and never touches its shadow", async () => {
    const b = await broker(folder.certs);
    const { config } = writeConfig(folder.dir, folder.certs, "pi-s6", b.port, { intervalMs: 200 });
    const requests: Array<string> = [];
    b.aedes.on("publish", (packet, client) => {
      if (client?.id === "pi-s6") requests.push(packet.topic);
    });
    let device: RunningDevice | undefined;
    try {
      device = await startDevice({ ...config, shadow: { enabled: false } }, { log, shadow: fast });
      await eventually(
        () => requests.some((t) => t.endsWith("/sensor/data")),
        "sensor data published",
      );
      await sleep(1_000);
      expect(requests.filter((t) => t.includes("/shadow/"))).toEqual([]);
      expect(b.shadows?.peek({ thing: "pi-s6" })).toBeUndefined();
      expect(device.agent.stats().shadow).toBeUndefined();
    } finally {
      await device?.stop();
      await b.close();
    }
  }, 60_000);

  it("a device whose broker never answers its shadow requests keeps running; every wait is bounded", async () => {
    const b = await startLocalBroker({
      port: 0,
      tls: { ca: folder.certs.ca, ...folder.certs.server },
      shadows: false,
    });
    const { config } = writeConfig(folder.dir, folder.certs, "pi-s5", b.port, { intervalMs: 200 });
    let device: RunningDevice | undefined;
    try {
      device = await startDevice(config, {
        log,
        shadow: { timeoutMs: 300, retryMs: 200, reportEveryMs: 60_000 },
      });
      await eventually(
        () => (device?.agent.stats().shadow?.timeouts ?? 0) >= 2,
        "two timed-out requests",
      );
      expect(device.transport.connected).toBe(true);
      expect(device.agent.stats().samplesTaken).toBeGreaterThan(0);
    } finally {
      await device?.stop();
      await b.close();
    }
  });
});
