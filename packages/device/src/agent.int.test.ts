import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { LocalBroker, RuleMessage } from "@medusa/adapters/broker";
import type { MqttTransport } from "@medusa/adapters/mqtt";
import { openOutbox } from "@medusa/adapters/outbox";
import {
  CommandResponse,
  DeviceInfo,
  DeviceStatus,
  parseSensorPayload,
  samplesOf,
} from "@medusa/domain";
import { Either, Schema } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDevice } from "./run.js";
import {
  connectCloud,
  eventually,
  firstSeen,
  recordSamples,
  sleep,
  startBroker,
  testFolder,
  writeConfig,
} from "./testing/testbed.js";

const IDS = ["pi-a", "pi-b", "pi-c", "pi-d", "medusa-cloud"];
let folder: Awaited<ReturnType<typeof testFolder>>;
beforeAll(async () => {
  folder = await testFolder(IDS);
});
afterAll(() => folder.remove());

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const quiet = () => {};

describe("the agent against a TLS broker", () => {
  it("keeps every sample, in order, through a broker restart", async () => {
    let broker: LocalBroker = await startBroker(folder.certs);
    const port = broker.port;
    const before = recordSamples(broker);
    const { config } = writeConfig(folder.dir, folder.certs, "pi-a", port);
    const device = await startDevice(config, { log: quiet });
    try {
      await eventually(() => before.length >= 3, "the first batches");
      await broker.close();
      await sleep(1_500); // sampling goes on; batches wait in the outbox
      broker = await startBroker(folder.certs, port);
      const after = recordSamples(broker);
      await eventually(() => after.length >= 8, "batches after the restart");
      await device.stop();
      const taken = device.agent.stats().nextSequence;
      const { order, consistent } = firstSeen([...before, ...after]);
      expect(consistent).toBe(true); // a duplicate carries the same samples and sequence numbers
      expect(order).toEqual(range(taken));
      expect(device.transport.reconnects()).toBeGreaterThanOrEqual(1);
    } finally {
      await device.stop();
      await broker.close();
    }
  });

  it("announces itself, reports status and answers remote commands", async () => {
    const broker = await startBroker(folder.certs);
    const { config } = writeConfig(folder.dir, folder.certs, "pi-c", broker.port);
    const cloud: MqttTransport = connectCloud(folder.certs, broker.port);
    const messages: Array<{ topic: string; json: unknown }> = [];
    await cloud.waitConnected();
    await cloud.subscribe("medusa/pi-c/+/response", (topic, payload) =>
      messages.push({ topic, json: JSON.parse(Buffer.from(payload).toString()) as unknown }),
    );
    await cloud.subscribe("medusa/pi-c/status", (topic, payload) =>
      messages.push({ topic, json: JSON.parse(Buffer.from(payload).toString()) as unknown }),
    );
    await cloud.subscribe("medusa/pi-c/device/info", (topic, payload) =>
      messages.push({ topic, json: JSON.parse(Buffer.from(payload).toString()) as unknown }),
    );
    const device = await startDevice(config, { log: quiet });
    try {
      await eventually(
        () => messages.some((m) => m.topic === "medusa/pi-c/status"),
        "a status report",
      );
      const info = messages.find((m) => m.topic === "medusa/pi-c/device/info");
      expect(Schema.decodeUnknownEither(DeviceInfo)(info?.json)).toMatchObject({
        right: { sensor_model: "synthetic", sample_rate_hz: 50, firmware_version: "0.1.0" },
      });
      const status = Schema.decodeUnknownSync(DeviceStatus)(
        messages.find((m) => m.topic === "medusa/pi-c/status")?.json,
      );
      expect(status).toMatchObject({ mqtt: { connected: true }, sensor: { healthy: true } });

      const ask = async (command: string, body: string) => {
        await cloud.publish(`medusa/pi-c/commands/${command}`, body);
      };
      await ask("ping", JSON.stringify({ request_id: "r-1", command: "ping" }));
      await ask(
        "set_sample_rate",
        JSON.stringify({ request_id: "r-2", command: "set_sample_rate", sample_rate_hz: 100 }),
      );
      await ask(
        "set_sample_rate",
        JSON.stringify({ request_id: "r-3", command: "set_sample_rate", sample_rate_hz: 5_000 }),
      );
      await ask("reboot", JSON.stringify({ request_id: "r-4", command: "reboot" }));
      await ask("ping", "{not json");
      const responses = () =>
        messages
          .filter((m) => m.topic === "medusa/pi-c/commands/response")
          .map((m) => Schema.decodeUnknownSync(CommandResponse)(m.json));
      await eventually(() => responses().length >= 5, "five command responses");
      const byId = Object.fromEntries(responses().map((r) => [r.request_id ?? "none", r]));
      expect(byId["r-1"]).toMatchObject({ ok: true, command: "ping" });
      expect(byId["r-2"]).toMatchObject({ ok: true, result: { sample_rate_hz: 100 } });
      expect(byId["r-3"]).toMatchObject({ ok: false, error: { code: "invalid_command" } });
      expect(byId["r-4"]).toMatchObject({ ok: false, error: { code: "unknown_command" } });
      expect(byId.none).toMatchObject({ ok: false, error: { code: "invalid_command" } });
      expect(device.agent.stats().sampleRateHz).toBe(100);
    } finally {
      await device.stop();
      await cloud.close();
      await broker.close();
    }
  });
});

describe("the agent with Basic Ingest", () => {
  it("sends sensor data to its rule with Basic Ingest, every sample in order; status and device info on their topics", async () => {
    const RULE = "medusa_ingest";
    const broker = await startBroker(folder.certs, 0, { basicIngestRules: [RULE] });
    const toRule: Array<RuleMessage> = [];
    broker.rules.register(RULE, "medusa/+/sensor/data", (m) => toRule.push(m));
    const seen = recordSamples(broker);
    const cloud: MqttTransport = connectCloud(folder.certs, broker.port);
    const onBroker: Array<string> = [];
    await cloud.waitConnected();
    await cloud.subscribe("medusa/pi-d/#", (topic) => onBroker.push(topic));
    const { config } = writeConfig(folder.dir, folder.certs, "pi-d", broker.port, {
      basicIngestRule: RULE,
    });
    expect(config.topics.sensorData).toBe(`$aws/rules/${RULE}/medusa/pi-d/sensor/data`);
    const device = await startDevice(config, { log: quiet });
    try {
      await eventually(
        () => toRule.length >= 3 && onBroker.includes("medusa/pi-d/status"),
        "batches at the rule and a status report",
      );
      await device.stop();
      await sleep(100);
      // The rule gets the topic its topic() gives (no prefix) and the device's client id.
      expect(new Set(toRule.map((m) => `${m.topic} ${m.clientId}`))).toEqual(
        new Set(["medusa/pi-d/sensor/data pi-d"]),
      );
      expect(new Set(seen.map((m) => m.topic))).toEqual(
        new Set([`$aws/rules/${RULE}/medusa/pi-d/sensor/data`]),
      );
      const sequences = toRule.flatMap((m) =>
        samplesOf(Either.getOrThrow(parseSensorPayload(m.payload.toString())), 0).map(
          (x) => x.sequence,
        ),
      );
      expect(sequences).toEqual(range(device.agent.stats().nextSequence));
      // Nothing on the plain sensor topic; status and device info through the broker as before.
      expect(new Set(onBroker)).toEqual(new Set(["medusa/pi-d/device/info", "medusa/pi-d/status"]));
      expect(broker.refusals).toEqual([]);
      expect(broker.rules.stats()).toMatchObject({ ruleNotFound: 0, unmatched: 0 });
    } finally {
      await device.stop();
      await cloud.close();
      await broker.close();
    }
  });
});

const root = fileURLToPath(new URL("../../..", import.meta.url));

const main = fileURLToPath(new URL("./main.ts", import.meta.url));

/** `medusa-device --config PATH` as its own process (one process: tsx loaded into node, so kill -9 hits the agent). */
const spawnAgent = (configPath: string) => {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "--conditions=@medusa/source", main, "--config", configPath],
    { cwd: root, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, MEDUSA_CONFIG: "" } },
  );
  const output: Array<string> = [];
  child.stdout?.on("data", (d) => output.push(String(d)));
  child.stderr?.on("data", (d) => output.push(String(d)));
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))),
  );
  return { child, output, exited };
};
const started = (agent: { output: Array<string> }) =>
  eventually(() => agent.output.join("").includes("medusa-device started"), "the agent", 30_000);

describe("medusa-device as a process", () => {
  let broker: LocalBroker | undefined;
  let running: ChildProcess | undefined;
  afterAll(async () => {
    running?.kill("SIGKILL");
    await broker?.close();
  });

  it("killed with kill -9 while offline with a full outbox, restarted: what the outbox held arrives", async () => {
    // A port with no broker yet: the agent samples into its outbox, bounded at 64 KB.
    const probe = await startBroker(folder.certs);
    const port = probe.port;
    await probe.close();
    const { path, config } = writeConfig(folder.dir, folder.certs, "pi-b", port, {
      rateHz: 400,
      intervalMs: 100,
      outbox: "max_bytes = 65536",
    });
    const offline = spawnAgent(path);
    running = offline.child;
    await started(offline);
    await sleep(6_000);
    offline.child.kill("SIGKILL");
    expect(await offline.exited).toBe(-1);

    const box = await openOutbox({ dir: config.outbox.path, maxBytes: config.outbox.maxBytes });
    const held = box.pending().flatMap((e) => {
      const payload = Either.getOrThrow(parseSensorPayload(e.payload.toString()));
      return samplesOf(payload, 0).map((s) => s.sequence);
    });
    const stats = box.stats();
    await box.close();
    expect(held.length).toBeGreaterThan(0);

    broker = await startBroker(folder.certs, port);
    const seen = recordSamples(broker);
    const online = spawnAgent(path);
    running = online.child;
    await started(online);
    const arrived = () => new Set(seen.flatMap((m) => m.sequences));
    // The outbox was full: until the restarted agent is connected, each new batch pushes out
    // the oldest one. So what arrives is everything held but perhaps its oldest part.
    const newest = held.at(-1) as number;
    await eventually(() => arrived().has(newest), "the newest batch the outbox held", 20_000).catch(
      (e) => {
        throw new Error(`${e}\n${online.output.join("")}`);
      },
    );
    const missing = held.filter((n) => !arrived().has(n));
    expect(missing).toEqual(held.slice(0, missing.length));
    expect(missing.length).toBeLessThan(held.length / 2);
    const last = Math.max(...held);
    await eventually(() => [...arrived()].some((n) => n > last), "new samples", 10_000);

    online.child.kill("SIGTERM");
    expect(await online.exited).toBe(0);
    const { order, consistent } = firstSeen(seen);
    expect(consistent).toBe(true);
    // Nothing held was reordered, and a restarted agent never reuses a sequence number.
    const fromOutbox = order.filter((n) => n <= last);
    expect(fromOutbox).toEqual([...fromOutbox].sort((a, b) => a - b));
    expect(order.slice(fromOutbox.length).every((n) => n > last)).toBe(true);
    expect(online.output.join("")).toContain("SIGTERM: stopping");
    // Full: drop-oldest kept the outbox at its bound.
    expect(stats.drops).toBeGreaterThan(0);
    expect(stats.bytes).toBeLessThanOrEqual(65_536);
  });
});
