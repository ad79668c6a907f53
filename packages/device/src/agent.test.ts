import { parseSensorPayload, samplesOf } from "@medusa/domain";
import { Either } from "effect";
import { afterEach, describe, expect, it } from "vitest";
import { SEQUENCE_BLOCK } from "./batcher.js";
import { parseConfig } from "./config.js";
import { type AgentSettings, launchAgent, type RunningAgent } from "./run.js";
import {
  cadenceSensor,
  fakeTransport,
  memoryJournal,
  memoryOutbox,
  portsLayer,
} from "./testing/ports.js";

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

/** The samples in the outbox, oldest first. */
const stored = (outbox: ReturnType<typeof memoryOutbox>) =>
  [...outbox.entries.values()].flatMap((e) =>
    samplesOf(Either.getOrThrow(parseSensorPayload(Buffer.from(e.payload).toString())), 0),
  );

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

let running: RunningAgent | undefined;
afterEach(async () => {
  await running?.stop(0);
  running = undefined;
});

/** Starts an agent on the given in-memory ports (the others fresh); stopped after the test. */
const launch = async (
  ports: Partial<Parameters<typeof portsLayer>[0]> = {},
  settings: Partial<AgentSettings> = {},
) => {
  running = await launchAgent(
    portsLayer({
      sensor: cadenceSensor(),
      outbox: memoryOutbox(),
      transport: fakeTransport(),
      ...ports,
    }),
    { config, ...settings },
  );
  return running;
};

describe("device agent", () => {
  it("samples while offline, keeps everything in the outbox, publishes all in order once connected", async () => {
    const transport = fakeTransport();
    const outbox = memoryOutbox();
    await launch({ outbox, transport });
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
    await launch({ outbox, transport });
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
    const { agent } = await launch({ sensor, transport });
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
    const { agent } = await launch({ transport });
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
  /** An agent on in-memory parts whose log lines are kept; `ports` replaces any of them. */
  const loggingAgent = async (
    ports: Partial<Parameters<typeof portsLayer>[0]> = {},
    settings: Partial<AgentSettings> = {},
  ) => {
    const log: Array<string> = [];
    const { agent } = await launch(ports, { log: (l) => log.push(l), ...settings });
    return { agent, log };
  };

  it("refuses samples taken before the clock was set, counts and logs them, and stores the rest", async () => {
    const sensor = cadenceSensor();
    sensor.offset = Date.UTC(2000, 0, 1) - Date.now(); // a dead RTC battery, before NTP
    const outbox = memoryOutbox();
    const { agent, log } = await loggingAgent({ sensor, outbox });
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
    const outbox = memoryOutbox();
    outbox.failing = true;
    const { agent, log } = await loggingAgent({ outbox });
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
    const outbox = memoryOutbox();
    outbox.failing = true;
    const { agent, log } = await loggingAgent({ outbox }, { maxPendingSamples: 20 });
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
    await launch({ outbox, transport });
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
    const { agent } = await launch({ sensor, transport });
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
    const device = await launch({ sensor, outbox, transport });
    transport.up();
    const stopping = device.stop(0);
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

/** A sequence file in memory: what was saved, in order. */
const memorySequence = (first = 0) => {
  const saved: Array<number> = [];
  return { saved, load: () => saved.at(-1) ?? first, save: (n: number) => void saved.push(n) };
};
const samplesOfRecords = (records: ReadonlyArray<string>) =>
  records.flatMap((r) => samplesOf(Either.getOrThrow(parseSensorPayload(r)), 0));

describe("what a crash leaves", () => {
  const slow = { ...config, publishIntervalMs: 5_000 };

  it("reserves sequence numbers a block ahead, and a stop persists the exact next one", async () => {
    const sequence = memorySequence(40);
    const device = await launch({ sequence });
    await sleep(250);
    expect(sequence.saved).toEqual([40 + SEQUENCE_BLOCK]); // before number 40 was given
    await device.stop(0);
    running = undefined;
    const next = device.agent.stats().nextSequence;
    expect(next).toBeGreaterThan(45);
    expect(sequence.saved).toEqual([40 + SEQUENCE_BLOCK, next]);
  });

  it("with a publish interval over a second, writes the samples to the journal every second", async () => {
    const journal = memoryJournal();
    const outbox = memoryOutbox();
    const { agent } = await launch({ journal, outbox }, { config: slow });
    await sleep(2_300);
    expect(outbox.entries.size).toBe(0); // the first batch is due at 5 s
    const journaled = samplesOfRecords(journal.records);
    expect(journal.records.length).toBe(2);
    expect(journaled.map((s) => s.sequence)).toEqual(range(0, journaled.length));
    expect(journaled.length).toBeGreaterThanOrEqual(agent.stats().nextSequence - 70); // within ~1 s at 50 Hz
  });

  it("a start reads the journal back: its samples go first, with their numbers, then new ones after the reserved block", async () => {
    // What a run killed 2.3 s into a 5 s interval left: two journal records, numbers reserved up to 1000.
    const first = memoryJournal();
    const crashed = await launch({ journal: first, sequence: memorySequence() }, { config: slow });
    await sleep(2_300);
    const left = [...first.records];
    await crashed.stop(0);
    const journaled = samplesOfRecords(left);
    expect(journaled.length).toBeGreaterThan(50);

    const journal = memoryJournal(left);
    const outbox = memoryOutbox();
    const sequence = memorySequence(SEQUENCE_BLOCK);
    await launch({ journal, outbox, sequence });
    await sleep(300);
    const samples = stored(outbox);
    expect(samples.slice(0, journaled.length)).toEqual(journaled);
    const after = samples.slice(journaled.length).map((s) => s.sequence);
    expect(after).toEqual(range(SEQUENCE_BLOCK, after.length));
    expect(journal.records).toEqual([]); // cleared once appended
  });

  it("a start skips journaled samples the outbox already has (a crash between an append and the journal's clearing)", async () => {
    const first = memoryJournal();
    const crashed = await launch({ journal: first }, { config: slow });
    await sleep(2_300);
    const left = [...first.records];
    await crashed.stop(0);
    const journaled = samplesOfRecords(left);
    // The outbox has the first record's samples already.
    const outbox = memoryOutbox();
    await outbox.append(left[0] as string, config.topics.sensorData);
    const log: Array<string> = [];
    await launch(
      { journal: memoryJournal(left), outbox, sequence: memorySequence(SEQUENCE_BLOCK) },
      { log: (l) => log.push(l) },
    );
    await sleep(300);
    const sequences = stored(outbox).map((s) => s.sequence);
    expect(new Set(sequences).size).toBe(sequences.length);
    expect(sequences.slice(0, journaled.length)).toEqual(journaled.map((s) => s.sequence));
    expect(log).toContainEqual(
      expect.stringMatching(/^\d+ samples \(sequence \d+–\d+\) read back from the journal$/),
    );
  });

  it("with a publish interval of a second or less, writes no journal", async () => {
    const journal = memoryJournal();
    const outbox = memoryOutbox();
    await launch({ journal, outbox }, { config: { ...config, publishIntervalMs: 1_000 } });
    await sleep(2_300);
    expect(journal.records).toEqual([]);
    expect(outbox.entries.size).toBeGreaterThanOrEqual(2);
  });
});
