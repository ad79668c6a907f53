import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { storesLayer } from "@medusa/adapters";
import { type DevCertFiles, ensureDevCerts, startLocalBroker } from "@medusa/adapters/broker";
import { connectTransport } from "@medusa/adapters/mqtt";
import { makeInMemoryStores } from "@medusa/adapters/testing";
import {
  actor,
  commandId,
  DAY_MS,
  deviceId,
  type EpochMillis,
  encodeSampleBatch,
  epochMillis,
  executeCommand,
  patientId,
  type Sample,
  type SensorStoreService,
  StorageUnavailable,
  type StoredSegment,
} from "@medusa/domain";
import { servicesLayer } from "@medusa/lambda";
import { Effect, ManagedRuntime } from "effect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type IngestRuleOptions, startIngestRule } from "./ingest-rule.js";

const dir = mkdtempSync(join(tmpdir(), "medusa-ingest-rule-"));
const device = "medusa-sim-01";
const topic = `medusa/${device}/sensor/data`;
let certs: DevCertFiles;
const cleanup: Array<() => Promise<void>> = [];
beforeAll(async () => {
  certs = await ensureDevCerts(join(dir, "certs"), [device]);
});
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

const eventually = async (check: () => boolean, what: string, ms = 15_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** A broker, and the device connected to it over TLS; each publish resolves at its PUBACK. */
const brokerAndDevice = async () => {
  const broker = await startLocalBroker({ port: 0, tls: { ca: certs.ca, ...certs.server } });
  const pair = certs.clients[device] as { cert: string; key: string };
  const transport = connectTransport({
    host: "127.0.0.1",
    port: broker.port,
    clientId: device,
    ca: certs.ca,
    ...pair,
    backoff: { baseMs: 50, capMs: 200 },
  });
  cleanup.push(
    () => broker.close(),
    () => transport.close(),
  );
  await transport.waitConnected();
  return { broker, publish: (payload: string) => transport.publish(topic, payload) };
};

// A message's samples: sequences 100k … 100k+4, taken in the last hour.
const POISON = 666_666;
const base = Date.now() - 3_600_000;
const samplesOf = (k: number, poisoned = false): Array<Sample> =>
  Array.from({ length: 5 }, (_, i) => ({
    timestamp: (base + k * 1_000 + i * 100) as EpochMillis,
    sequence: poisoned && i === 0 ? POISON : 100 * k + i,
    x: 0.01,
    y: 0.02,
    z: 0.99,
    magnitude: Math.sqrt(0.01 ** 2 + 0.02 ** 2 + 0.99 ** 2),
  }));
const message = (k: number, poisoned = false) => encodeSampleBatch(samplesOf(k, poisoned));

type Write = (
  segments: ReadonlyArray<StoredSegment>,
  store: SensorStoreService,
) => ReturnType<SensorStoreService["write"]>;

/** In-memory stores, the sensor store's writes going through `write` (straight by default). */
const inMemory = () => {
  const stores = makeInMemoryStores();
  const sensors = stores.sensors;
  const runtime = (write: Write = (segments, store) => store.write(segments)) =>
    ManagedRuntime.make(
      servicesLayer(
        storesLayer({
          ...stores,
          sensors: { ...sensors, write: (segments) => write(segments, sensors) },
        }),
        { cacheTtlMs: 30_000 },
      ),
    );
  return { sensors, letters: stores.deadLetters, runtime };
};

/**
 * Writes held until `open()` (so that messages queue up into one batch), and
 * `poison` for any holding the poisoned sample.
 */
const heldAndPoisoned = (poison: () => Effect.Effect<never, StorageUnavailable>) => {
  let open = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const write: Write = (segments, store) =>
    Effect.zipRight(
      Effect.promise(() => gate),
      segments.some((s) => s.samples.some((x) => x.sequence === POISON))
        ? poison()
        : store.write(segments),
    );
  return { write, open: () => open() };
};

const options = (
  file: string,
  log: Array<Record<string, unknown>>,
): Omit<IngestRuleOptions, "aedes" | "runtime"> => ({
  topicPrefix: "medusa",
  retentionMs: 30 * DAY_MS,
  settleMs: 1_000,
  failedFile: file,
  log: (entry) => log.push(entry),
});

const storedSequences = (segments: ReadonlyArray<StoredSegment>) =>
  segments.flatMap((s) => s.samples.map((x) => x.sequence)).sort((a, b) => a - b);
const lines = (file: string) =>
  readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "");

it("puts what the stop could not store in the failures file, and the next start stores it", async () => {
  const file = join(dir, "stopped.jsonl");
  const log: Array<Record<string, unknown>> = [];
  // A store that never answers (DynamoDB Local hanging, or already gone).
  const { sensors, runtime } = inMemory();
  const first = await brokerAndDevice();
  const rule = startIngestRule({
    ...options(file, log),
    aedes: first.broker.aedes,
    runtime: runtime(() => Effect.never),
    stopTimeoutMs: 200,
  });
  for (let k = 0; k < 30; k++) await first.publish(message(k));
  expect(rule.stats()).toMatchObject({ received: 30, queued: 30, stored: 0 });

  const stopping = Date.now();
  await rule.stop();
  expect(Date.now() - stopping).toBeLessThan(2_000);
  expect(rule.stats()).toMatchObject({ failed: 30, queued: 0 });
  expect(log).toContainEqual(
    expect.objectContaining({
      level: "error",
      msg: "messages not stored before the stop, kept in the failures file",
      count: 30,
    }),
  );
  // Acknowledged after the ingest stopped, before the broker closed: kept as well.
  await first.publish(message(30));
  const kept = lines(file).map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(kept).toHaveLength(31);
  expect(kept[0]).toMatchObject({
    topic,
    client_id: device,
    received_at: expect.any(Number),
    payload: message(0),
  });
  expect(sensors.all()).toEqual([]);
  await first.broker.close();

  // A line that is no message is left where it is.
  appendFileSync(file, "not a failure line\n");
  const second = await brokerAndDevice();
  const restarted = startIngestRule({
    ...options(file, log),
    aedes: second.broker.aedes,
    runtime: runtime(),
  });
  await eventually(() => restarted.stats().queued === 0, "the replay");
  expect(restarted.stats()).toMatchObject({ received: 0, replayed: 31, stored: 31, failed: 0 });
  const expected = Array.from({ length: 31 }, (_, k) => samplesOf(k).map((x) => x.sequence));
  expect(storedSequences(sensors.all())).toEqual(expected.flat().sort((a, b) => a - b));
  expect(readFileSync(file, "utf8")).toBe("not a failure line\n");
  expect(log).toContainEqual(
    expect.objectContaining({ msg: "failures file replayed", stored: 31, failed: 0 }),
  );
  await restarted.stop();
});

it("stores a batch's other messages one at a time when the store refuses one of them", async () => {
  const file = join(dir, "poison.jsonl");
  const log: Array<Record<string, unknown>> = [];
  // One item the store refuses (as DynamoDB refuses a whole batch for one item too large).
  const { write: refusing, open } = heldAndPoisoned(() =>
    Effect.fail(new StorageUnavailable({ store: "sensors", operation: "write", reason: "no" })),
  );
  const { sensors, runtime } = inMemory();
  const { broker, publish } = await brokerAndDevice();
  // One write at a time, the first held: the next 25 messages queue up and go as one batch.
  const rule = startIngestRule({
    ...options(file, log),
    aedes: broker.aedes,
    runtime: runtime(refusing),
    concurrency: 1,
    retries: 1,
  });
  for (let k = 0; k < 26; k++) await publish(message(k, k === 10));
  expect(rule.stats()).toMatchObject({ received: 26, queued: 26 });
  open();
  await eventually(() => rule.stats().queued === 0, "the queue to drain");

  expect(rule.stats()).toMatchObject({ stored: 25, failed: 1 });
  expect(log).toContainEqual(
    expect.objectContaining({
      msg: "batch not stored, storing its messages one at a time",
      count: 25,
    }),
  );
  expect(log).toContainEqual(
    expect.objectContaining({ level: "error", msg: "messages not stored", count: 1 }),
  );
  expect(lines(file).map((l) => JSON.parse(l).payload)).toEqual([message(10, true)]);
  expect(storedSequences(sensors.all())).not.toContain(POISON);
  expect(storedSequences(sensors.all())).toHaveLength(25 * 5);
  await rule.stop();

  // Replayed at the next start and refused again: the file holds it once, and only it.
  const again = startIngestRule({
    ...options(file, log),
    aedes: broker.aedes,
    runtime: runtime(refusing),
    retries: 0,
  });
  await eventually(() => again.stats().queued === 0, "the replay");
  expect(again.stats()).toMatchObject({ replayed: 1, stored: 0, failed: 1 });
  expect(lines(file).map((l) => JSON.parse(l).payload)).toEqual([message(10, true)]);
  expect(existsSync(`${file}.${process.pid}.tmp`)).toBe(false);
  await again.stop();
});

const down = () =>
  Effect.fail(new StorageUnavailable({ store: "sensors", operation: "write", reason: "down" }));

it("brings messages parked while the store was down back in the background, with backoff, without a restart", async () => {
  const file = join(dir, "outage.jsonl");
  const log: Array<Record<string, unknown>> = [];
  let storeIsDown = true;
  const { sensors, runtime } = inMemory();
  const { broker, publish } = await brokerAndDevice();
  const rule = startIngestRule({
    ...options(file, log),
    aedes: broker.aedes,
    runtime: runtime((segments, store) => (storeIsDown ? down() : store.write(segments))),
    retries: 0,
    replayBaseMs: 200,
    replayCapMs: 800,
  });
  for (let k = 0; k < 10; k++) await publish(message(k));
  await eventually(() => rule.stats().parked === 10, "the messages to be parked");
  expect(lines(file)).toHaveLength(10);

  // Still down: each replay parks them again, the wait doubles up to its cap, none is doubled.
  const retriedIn = () =>
    log.filter((e) => e.msg === "parked messages retried in").map((e) => e.ms);
  await eventually(() => retriedIn().length >= 5, "several background replays", 10_000);
  expect(retriedIn().slice(0, 5)).toEqual([200, 400, 800, 800, 800]);
  expect(rule.stats()).toMatchObject({ parked: 10, stored: 0 });
  expect(sensors.all()).toEqual([]);

  // Back: stored within one wait (the cap), the file emptied, nothing parked.
  storeIsDown = false;
  const back = Date.now();
  await eventually(
    () => rule.stats().parked === 0 && rule.stats().queued === 0,
    "the replay",
    5_000,
  );
  expect(Date.now() - back).toBeLessThan(800 + 1_000);
  expect(existsSync(file)).toBe(false);
  const expected = Array.from({ length: 10 }, (_, k) => samplesOf(k).map((x) => x.sequence));
  expect(storedSequences(sensors.all())).toEqual(expected.flat().sort((a, b) => a - b));
  expect(log).toContainEqual(
    expect.objectContaining({ msg: "failures file replayed", stored: 10, failed: 0 }),
  );

  // A replay that stored everything resets the wait: the next outage is retried after 200 ms again.
  storeIsDown = true;
  await publish(message(10));
  await eventually(() => rule.stats().parked === 1, "the next message to be parked");
  expect(retriedIn().at(-1)).toBe(200);
  storeIsDown = false;
  await eventually(() => rule.stats().parked === 0, "the next replay", 5_000);
  expect(rule.stats()).toMatchObject({ received: 11, stored: 11, parked: 0, queued: 0 });
  await rule.stop();
});

it("keeps a message the ingest dies on as a dead letter, never in the failures file", async () => {
  const file = join(dir, "defect.jsonl");
  const log: Array<Record<string, unknown>> = [];
  // A defect, not a storage failure: a bug the message triggers, which no retry cures.
  const { write: dying, open } = heldAndPoisoned(() =>
    Effect.die(new RangeError("Maximum call stack size exceeded")),
  );
  const { sensors, letters, runtime } = inMemory();
  const { broker, publish } = await brokerAndDevice();
  const rule = startIngestRule({
    ...options(file, log),
    aedes: broker.aedes,
    runtime: runtime(dying),
    concurrency: 1,
    replayBaseMs: 100,
  });
  for (let k = 0; k < 26; k++) await publish(message(k, k === 10));
  // Nested far beyond any shape the ingest reads, within the 128 KiB a device may send.
  const deep = `${"[".repeat(60_000)}${"]".repeat(60_000)}`;
  await publish(deep);
  open();
  await eventually(() => rule.stats().queued === 0, "the queue to drain");
  await new Promise((r) => setTimeout(r, 300));

  expect(rule.stats()).toMatchObject({ stored: 25, rejected: 2, failed: 0, parked: 0 });
  expect(existsSync(file)).toBe(false);
  expect(storedSequences(sensors.all())).toHaveLength(25 * 5);
  const kept = await Effect.runPromise(letters.recent(10));
  expect(kept).toContainEqual(
    expect.objectContaining({
      topic,
      clientId: device,
      payload: message(10, true),
      reason: "the ingest failed on this message",
      issues: [{ path: "", message: expect.stringContaining("Maximum call stack size exceeded") }],
    }),
  );
  expect(kept).toContainEqual(expect.objectContaining({ topic, payload: deep }));
  expect(log).toContainEqual(
    expect.objectContaining({
      level: "error",
      msg: "the ingest failed on a message, kept in dead letters",
    }),
  );
  await rule.stop();
});

it("a warm ingest attributes the next message by a new assignment at once: the commit hook empties the device's cached intervals", async () => {
  const file = join(dir, "warm.jsonl");
  const log: Array<Record<string, unknown>> = [];
  // What the ingest itself wrote, and with which stream version (re-attribution goes through `replace`).
  const written: Array<readonly [number, string, number]> = [];
  const { sensors, runtime } = inMemory();
  const services = runtime((segments, store) => {
    for (const s of segments)
      written.push([s.samples[0]?.sequence ?? -1, s.patientId, s.attributedVersion]);
    return store.write(segments);
  });
  const { broker, publish } = await brokerAndDevice();
  // No second pass during the test: what is right is right because of the hook or the first pass.
  const rule = startIngestRule({
    ...options(file, log),
    settleMs: 600_000,
    aedes: broker.aedes,
    runtime: services,
  });
  const commit = async (n: number, patient: string, at: number) => {
    const fields = {
      commandId: commandId(`warm-${n}`),
      deviceId: deviceId(device),
      actor: actor("clinician@medusa.local"),
      at: epochMillis(at),
      now: epochMillis(Date.now()),
      patientId: patientId(patient),
    };
    const outcome = await services.runPromise(
      executeCommand(
        n === 1
          ? { _tag: "AssignDevice", ...fields }
          : { _tag: "ReassignDevice", ...fields, reason: "completed" },
      ),
    );
    return outcome.commit;
  };
  const storedAs = (k: number) =>
    sensors
      .all()
      .filter((s) => s.samples.some((x) => x.sequence === 100 * k))
      .map((s) => [s.patientId, s.attributedVersion]);

  // P1 from before message 0; the ingest loads the intervals (version 1) and keeps them 30 s.
  rule.onCommit(await commit(1, "P1", base - 1_000));
  await publish(message(0));
  await eventually(() => written.length === 1, "message 0");
  expect(written[0]).toEqual([0, "P1", 1]);

  // Reassigned to P2 from before message 20, with the commit hook (as the stack's API calls it):
  // the very next message is P2's, from the ingest itself, well within the cache's 30 s.
  rule.onCommit(await commit(2, "P2", base + 10_000));
  await publish(message(20));
  await eventually(() => written.length === 2, "message 20");
  expect(written[1]).toEqual([2000, "P2", 2]);

  // Without the hook, as a warm Lambda container sees a commit: its cache is stale (up to the
  // TTL) and the ingest writes the old patient; re-attribution, when the commit reaches it, rewrites.
  const third = await commit(3, "P3", base + 30_000);
  await publish(message(40));
  await eventually(() => written.length === 3, "message 40");
  expect(written[2]).toEqual([4000, "P2", 2]);
  rule.onCommit(third);
  await eventually(() => storedAs(40)[0]?.[0] === "P3", "re-attribution's first pass");
  expect(storedAs(40)).toEqual([["P3", 3]]);
  expect(storedAs(20)).toEqual([["P2", 2]]);
  await rule.stop();
});
