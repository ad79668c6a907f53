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

/**
 * A sensor giving readings at an exact cadence from the wall clock; its
 * timestamps are off by `offset` ms (a clock that is not set yet).
 */
const cadenceSensor = (): AgentSensor & { rate: number; rateChanges: number; offset: number } => {
  let next = Date.now();
  const s = {
    model: "test",
    rate: 0,
    rateChanges: 0,
    offset: 0,
    start: async (hz: number) => {
      s.rate = hz;
    },
    setRate: async (hz: number) => {
      s.rate = hz;
      s.rateChanges++;
    },
    drain: async () => {
      const out = [];
      const step = 1000 / s.rate;
      while (next <= Date.now()) {
        out.push({ timestamp: Math.round(next + s.offset), x: 0, y: 0, z: 1 });
        next += step;
      }
      return out;
    },
    health: () => ({ healthy: true }),
    close: async () => {},
  };
  return s;
};

/** An outbox in memory; `failing` makes appends fail as a full or broken disk does. */
const memoryOutbox = () => {
  const entries = new Map<number, AgentOutboxEntry>();
  let id = 0;
  const box = {
    entries,
    appends: 0,
    failing: false,
    closed: false,
    appendedAfterClose: 0,
    append: async (payload: string, topic: string) => {
      if (box.failing) throw Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" });
      if (box.closed) box.appendedAfterClose++;
      box.appends++;
      entries.set(++id, { id, topic, payload: Buffer.from(payload) });
    },
    pending: (limit = Number.POSITIVE_INFINITY, after = 0) =>
      [...entries.values()].filter((e) => Number(e.id) > after).slice(0, limit),
    ack: (i: number | bigint) => entries.delete(Number(i)),
    stats: () => ({ depth: entries.size, bytes: 0, drops: 0 }),
    close: async () => {
      box.closed = true;
    },
  };
  return box satisfies AgentOutbox;
};

/** The samples in the outbox, oldest first. */
const stored = (outbox: ReturnType<typeof memoryOutbox>) =>
  [...outbox.entries.values()].flatMap((e) =>
    samplesOf(Either.getOrThrow(parseSensorPayload(Buffer.from(e.payload).toString())), 0),
  );

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
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
const responses = (published: ReadonlyArray<{ topic: string; payload: string }>) =>
  published
    .filter((p) => p.topic === config.topics.commandResponse)
    .map((p) => JSON.parse(p.payload) as Record<string, unknown>);
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

describe("device agent, when samples cannot be stored", () => {
  /** An agent on in-memory parts whose log lines are kept; `options` replaces any part but the outbox. */
  const loggingAgent = (
    options: Partial<Omit<ConstructorParameters<typeof Agent>[0], "outbox">> = {},
  ) => {
    const outbox = memoryOutbox();
    const log: Array<string> = [];
    const created = new Agent({
      config,
      sensor: cadenceSensor(),
      outbox,
      transport: fakeTransport(),
      log: (l) => log.push(l),
      ...options,
    });
    agent = created; // stopped after the test
    return { agent: created, outbox, log };
  };

  it("refuses samples taken before the clock was set, counts and logs them, and stores the rest", async () => {
    const sensor = cadenceSensor();
    sensor.offset = Date.UTC(2000, 0, 1) - Date.now(); // a dead RTC battery, before NTP
    const { agent, outbox, log } = loggingAgent({ sensor });
    await agent.start();
    await sleep(250);
    expect(outbox.entries.size).toBe(0);
    sensor.offset = 0; // NTP set the clock
    await sleep(350);
    const samples = stored(outbox);
    expect(samples.length).toBeGreaterThanOrEqual(5);
    expect(samples.map((s) => s.sequence)).toEqual(range(0, samples.length));
    expect(agent.stats().samplesRefused.clock).toBeGreaterThan(5);
    expect(agent.stats().samplesDropped).toBe(0);
    const refusals = log.filter((l) => l.includes("readings refused"));
    expect(refusals).toHaveLength(1); // once, not every interval
    expect(refusals[0]).toMatch(/is not between 2020 and 2100 \(is the clock set\?\)/);
    expect(log.some((l) => l.includes("outbox append failed"))).toBe(false);
  });

  it("keeps the samples' sequence numbers when an append fails, and stores them in order later", async () => {
    const { agent, outbox, log } = loggingAgent();
    outbox.failing = true;
    await agent.start();
    await sleep(350);
    expect(log.filter((l) => l.includes("outbox append failed")).length).toBeGreaterThanOrEqual(2);
    expect(log.at(-1)).toMatch(/samples \(sequence 0–\d+\) kept for the next interval: EIO/);
    outbox.failing = false;
    await sleep(250);
    const samples = stored(outbox);
    expect(samples.map((s) => s.sequence)).toEqual(range(0, samples.length));
    expect(new Set(samples.map((s) => s.timestamp)).size).toBe(samples.length);
    expect(agent.stats().samplesDropped).toBe(0);
  });

  it("holds a bounded backlog while appends keep failing, dropping the oldest with a count", async () => {
    const { agent, outbox, log } = loggingAgent({ maxPendingSamples: 20 });
    outbox.failing = true;
    await agent.start();
    await sleep(700); // about 35 samples at 50 Hz
    const dropped = agent.stats().samplesDropped;
    expect(dropped).toBeGreaterThan(5);
    expect(log.filter((l) => l.includes("samples dropped, oldest first"))).toHaveLength(1);
    outbox.failing = false;
    await sleep(150);
    const sequences = stored(outbox).map((s) => s.sequence);
    expect(sequences[0]).toBeGreaterThanOrEqual(dropped); // the oldest went
    expect(sequences).toEqual(range(sequences[0] ?? 0, sequences.length));
  });
});

describe("device agent commands", () => {
  it("a stream of set_publish_interval does not keep the batches from being flushed", async () => {
    const transport = fakeTransport();
    const outbox = memoryOutbox();
    agent = new Agent({ config, sensor: cadenceSensor(), outbox, transport });
    await agent.start();
    transport.up();
    const command = (ms: number) =>
      transport.deliver(
        "medusa/pi-test/commands/set_publish_interval",
        `{"request_id":"r","command":"set_publish_interval","publish_interval_ms":${ms}}`,
      );
    for (let i = 0; i < 15; i++) {
      command(100); // the interval it has: nothing to change
      await sleep(40);
    }
    expect(outbox.appends).toBeGreaterThanOrEqual(3);
    const before = outbox.appends;
    for (let i = 0; i < 15; i++) {
      command(i % 2 ? 100 : 150); // a change re-arms, keeping the phase: a flush is never postponed
      await sleep(40);
    }
    expect(outbox.appends - before).toBeGreaterThanOrEqual(3);
    expect(responses(transport.published).every((r) => r.ok === true)).toBe(true);
  });

  it("does not re-configure the sensor for the rate it has", async () => {
    const transport = fakeTransport();
    const sensor = cadenceSensor();
    agent = new Agent({ config, sensor, outbox: memoryOutbox(), transport });
    await agent.start();
    transport.up();
    for (const hz of [50, 50, 20, 20])
      transport.deliver(
        "medusa/pi-test/commands/set_sample_rate",
        `{"request_id":"r","command":"set_sample_rate","sample_rate_hz":${hz}}`,
      );
    await sleep(50);
    expect(sensor.rateChanges).toBe(1);
    expect(agent.stats().sampleRateHz).toBe(20);
    expect(responses(transport.published).map((r) => r.ok)).toEqual([true, true, true, true]);
  });

  it("refuses commands that change timers once stopping began, and flushes nothing after it", async () => {
    const transport = fakeTransport();
    const sensor = cadenceSensor();
    const outbox = memoryOutbox();
    agent = new Agent({ config, sensor, outbox, transport });
    await agent.start();
    transport.up();
    const stopping = agent.stop(0);
    transport.deliver(
      "medusa/pi-test/commands/set_publish_interval",
      '{"request_id":"p","command":"set_publish_interval","publish_interval_ms":150}',
    );
    transport.deliver(
      "medusa/pi-test/commands/set_sample_rate",
      '{"request_id":"s","command":"set_sample_rate","sample_rate_hz":20}',
    );
    await stopping;
    await sleep(300);
    expect(outbox.closed).toBe(true);
    expect(outbox.appendedAfterClose).toBe(0);
    expect(sensor.rate).toBe(50);
    expect(responses(transport.published)).toEqual([
      expect.objectContaining({
        request_id: "p",
        ok: false,
        error: { code: "command_failed", message: "the agent is stopping" },
      }),
      expect.objectContaining({ request_id: "s", ok: false }),
    ]);
  });
});
