import { parseSensorPayload, samplesOf } from "@medusa/domain";
import { Either } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import {
  Agent,
  type AgentOutbox,
  type AgentOutboxEntry,
  type AgentSensor,
  type AgentTransport,
} from "./agent.js";
import { parseConfig } from "./config.js";

const config = Either.getOrThrow(
  parseConfig(
    `[mqtt]
broker_host = "127.0.0.1"
client_id = "pi-test"
ca_cert = "ca.pem"
client_cert = "c.pem"
client_key = "k.pem"
[sensor]
sample_rate_hz = 50
kind = "synthetic"
[publish]
interval_ms = 100
status_interval_ms = 1000
`,
    "test.toml",
    { fs: { read: () => undefined, write: () => {}, mode: () => undefined } },
  ),
);

/** A sensor giving readings at an exact cadence from the wall clock. */
const cadenceSensor = (): AgentSensor & { rate: number } => {
  let next = Date.now();
  const s = {
    model: "test",
    rate: 0,
    start: async (hz: number) => {
      s.rate = hz;
    },
    setRate: async (hz: number) => {
      s.rate = hz;
    },
    drain: async () => {
      const out = [];
      const step = 1000 / s.rate;
      while (next <= Date.now()) {
        out.push({ timestamp: Math.round(next), x: 0, y: 0, z: 1 });
        next += step;
      }
      return out;
    },
    health: () => ({ healthy: true }),
    close: async () => {},
  };
  return s;
};

const memoryOutbox = (): AgentOutbox & { entries: Map<number, AgentOutboxEntry> } => {
  const entries = new Map<number, AgentOutboxEntry>();
  let id = 0;
  return {
    entries,
    append: async (payload, topic) => {
      entries.set(++id, { id, topic, payload: Buffer.from(payload) });
    },
    pending: (limit = Number.POSITIVE_INFINITY, after = 0) =>
      [...entries.values()].filter((e) => Number(e.id) > after).slice(0, limit),
    ack: (i) => entries.delete(Number(i)),
    stats: () => ({ depth: entries.size, bytes: 0, drops: 0 }),
    close: async () => {},
  };
};

/** A transport whose PUBACKs and connection the test controls. */
const fakeTransport = () => {
  const connect: Array<() => void> = [];
  const disconnect: Array<() => void> = [];
  const handlers: Array<(topic: string, payload: Uint8Array) => void> = [];
  const published: Array<{ topic: string; payload: string }> = [];
  const t = {
    connected: false,
    acking: true,
    published,
    publish: async (topic: string, payload: string | Uint8Array) => {
      if (!t.connected) throw new Error("not connected");
      published.push({ topic, payload: Buffer.from(payload).toString() });
      if (!t.acking) return new Promise<void>(() => {});
    },
    subscribe: async (_: string, h: (topic: string, payload: Uint8Array) => void) => {
      handlers.push(h);
    },
    onConnect: (l: () => void) => connect.push(l),
    onDisconnect: (l: () => void) => disconnect.push(l),
    reconnects: () => 0,
    close: async () => {},
    up: () => {
      t.connected = true;
      for (const l of connect) l();
    },
    down: () => {
      t.connected = false;
      for (const l of disconnect) l();
    },
    deliver: (topic: string, payload: string) => {
      for (const h of handlers) h(topic, Buffer.from(payload));
    },
  };
  return t satisfies AgentTransport;
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sequences = (published: ReadonlyArray<{ topic: string; payload: string }>) =>
  published
    .filter((p) => p.topic === config.topics.sensorData)
    .flatMap((p) =>
      samplesOf(Either.getOrThrow(parseSensorPayload(p.payload)), 0).map((s) => s.sequence),
    );

let agent: Agent | undefined;
afterEach(async () => {
  await agent?.stop(0);
  agent = undefined;
});

describe("device agent", () => {
  it("samples while offline, keeps everything in the outbox, publishes all in order once connected", async () => {
    const transport = fakeTransport();
    const outbox = memoryOutbox();
    agent = new Agent({ config, sensor: cadenceSensor(), outbox, transport });
    await agent.start();
    await sleep(450);
    expect(transport.published).toEqual([]);
    expect(outbox.entries.size).toBeGreaterThanOrEqual(3);
    transport.up();
    await sleep(250);
    const seq = sequences(transport.published);
    expect(seq.length).toBeGreaterThan(15);
    expect(seq).toEqual(Array.from({ length: seq.length }, (_, i) => i));
    expect(transport.published.some((p) => p.topic === config.topics.deviceInfo)).toBe(true);
    expect(outbox.entries.size).toBeLessThanOrEqual(1);
  });

  it("keeps unacknowledged batches and sends them again after a reconnect", async () => {
    const transport = fakeTransport();
    const outbox = memoryOutbox();
    agent = new Agent({ config, sensor: cadenceSensor(), outbox, transport });
    await agent.start();
    transport.up();
    transport.acking = false;
    await sleep(350);
    const unacked = outbox.entries.size;
    expect(unacked).toBeGreaterThanOrEqual(2);
    transport.down();
    transport.acking = true;
    transport.up();
    await sleep(200);
    const seq = sequences(transport.published);
    // Duplicates allowed (same sequence numbers), nothing missing.
    const unique = [...new Set(seq)].sort((a, b) => a - b);
    expect(unique).toEqual(Array.from({ length: unique.length }, (_, i) => i));
    expect(seq.length).toBeGreaterThan(unique.length);
    expect(outbox.entries.size).toBeLessThanOrEqual(1);
  });

  it("answers commands on the response topic and applies them", async () => {
    const transport = fakeTransport();
    const sensor = cadenceSensor();
    agent = new Agent({ config, sensor, outbox: memoryOutbox(), transport });
    await agent.start();
    transport.up();
    transport.deliver(
      "medusa/pi-test/commands/set_sample_rate",
      '{"request_id":"r1","command":"set_sample_rate","sample_rate_hz":20}',
    );
    transport.deliver("medusa/pi-test/commands/x", "garbage");
    transport.deliver(config.topics.commandResponse, '{"request_id":"echo","ok":true}');
    await sleep(50);
    const responses = transport.published
      .filter((p) => p.topic === config.topics.commandResponse)
      .map((p) => JSON.parse(p.payload));
    expect(responses).toHaveLength(2);
    expect(responses).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ request_id: "r1", ok: true }),
        expect.objectContaining({ request_id: null, ok: false }),
      ]),
    );
    expect(sensor.rate).toBe(20);
    expect(agent.stats().sampleRateHz).toBe(20);
  });

  it("reports status with outbox, sensor and connection state", async () => {
    const transport = fakeTransport();
    agent = new Agent({ config, sensor: cadenceSensor(), outbox: memoryOutbox(), transport });
    await agent.start();
    const status = await agent.status();
    expect(status).toMatchObject({
      mqtt: { connected: false },
      sensor: { model: "test", healthy: true, sample_rate_hz: 50 },
      reconnects: 0,
      last_publish_at: null,
    });
    expect(status.memory.rss_bytes).toBeGreaterThan(0);
  });
});
