import { clockFrom, storesLayer } from "@medusa/adapters";
import { type InMemoryStores, makeInMemoryStores } from "@medusa/adapters/testing";
import {
  type AssignmentCommand,
  actor,
  commandId,
  deviceId,
  EventStoreUnavailable,
  encodeSampleBatch,
  epochMillis,
  executeCommand,
  patientId,
  reattribute,
  reattributeAndSettle,
  SegmentsNotWritten,
  StorageUnavailable,
  type StoredSegment,
  UNASSIGNED,
} from "@medusa/domain";
import { sampleAt, T0 } from "@medusa/domain/testing";
import { Effect, Fiber, TestClock, TestContext } from "effect";
import fc from "fast-check";
import { beforeEach, describe, expect, it } from "vitest";
import { configFromEnv } from "../config.js";
import { type Services, servicesLayer } from "../services.js";
import { ingestHandler } from "./ingest.js";

const device = deviceId("medusa-pi-01");
const nurse = actor("nurse@clinic.example");
const P1 = patientId("P1");
const P2 = patientId("P2");
const topic = "medusa/medusa-pi-01/sensor/data";

let stores: InMemoryStores;
let now = T0 + 3_600_000;

beforeEach(() => {
  stores = makeInMemoryStores();
  now = T0 + 3_600_000;
});

/** What one Lambda container runs on: its own interval cache and recent writes, over the test's stores. */
const container = (overrides: Partial<InMemoryStores> = {}) =>
  servicesLayer(storesLayer({ ...stores, ...overrides }), {
    cacheTtlMs: 30_000,
    clock: clockFrom(() => now),
  });
/** The ingest handler of a new container. */
const newIngest = (overrides: Partial<InMemoryStores> = {}) =>
  ingestHandler(configFromEnv({}), container(overrides));

const run = <A, E>(e: Effect.Effect<A, E, Services>) =>
  Effect.runPromise(Effect.provide(e, container()));
const command = (c: AssignmentCommand) => run(Effect.either(executeCommand(c)));
const assign = (patient = P1, at = T0, id = `a-${patient}-${at}`) =>
  command({
    _tag: "AssignDevice",
    commandId: commandId(id),
    deviceId: device,
    actor: nurse,
    patientId: patient,
    patientName: `Name ${patient}`,
    at: epochMillis(at),
    now: epochMillis(Math.max(at, now)),
  });
const reassign = (patient: typeof P1, at: number) =>
  command({
    _tag: "ReassignDevice",
    commandId: commandId(`r-${at}`),
    deviceId: device,
    actor: nurse,
    patientId: patient,
    reason: "completed",
    at: epochMillis(at),
    now: epochMillis(Math.max(at, now)),
  });

/** A batch of `n` samples at 10 Hz from `t0`, as the rule delivers it. */
const batch = (t0: number, n0: number, n = 10, extra: Record<string, unknown> = {}) => ({
  ...JSON.parse(
    encodeSampleBatch(Array.from({ length: n }, (_, i) => sampleAt(t0 + i * 100, n0 + i))),
  ),
  topic,
  client_id: "medusa-pi-01",
  received_at: t0 + n * 100 + 50,
  ...extra,
});

const owners = () =>
  new Map(
    stores.sensors.all().flatMap((s) => s.samples.map((x) => [x.sequence, s.patientId] as const)),
  );

describe("ingest", () => {
  it("stores a native batch attributed by event time, with the historical result shape", async () => {
    await assign();
    const ingest = newIngest();
    const result = await ingest(batch(T0 + 1_000, 0));
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({
      device_id: "medusa-pi-01",
      patient_id: "P1",
      status: "stored",
      format: "batch",
      samples: 10,
      segments: 1,
      written: 1,
    });
    const [item] = stores.sensors.all();
    expect(item).toMatchObject({
      patientId: P1,
      patientName: "Name P1",
      assignmentStart: T0,
      key: T0 + 1_000,
      attributedVersion: 1,
    });
    expect(item?.ttl).toBe(Math.ceil((T0 + 1_900 + 30 * 86_400_000) / 1000));
  });

  it("keeps the device's newest sample time in its status row, written once a minute at most", async () => {
    const ingest = newIngest();
    const statusOf = async () =>
      (await Effect.runPromise(stores.deviceStatuses.get(device)))?.status.lastSampleAt;
    await ingest(batch(T0 + 1_000, 0));
    expect(await statusOf()).toBe(T0 + 1_900);
    // A batch a second for half a minute: the row is not written again.
    for (let i = 1; i <= 30; i++) await ingest(batch(T0 + 1_000 + i * 1_000, i * 10));
    expect(await statusOf()).toBe(T0 + 1_900);
    await ingest(batch(T0 + 62_000, 1_000));
    expect(await statusOf()).toBe(T0 + 62_900);
  });

  it("splits a batch at a reassignment and lists both patients", async () => {
    await assign();
    await reassign(P2, T0 + 10_500);
    const ingest = newIngest();
    const result = await ingest(batch(T0 + 10_000, 100));
    expect(JSON.parse(result.body).patient_id).toEqual(["P1", "P2"]);
    expect(stores.sensors.all().map((s) => [s.patientId, s.key, s.samples.length])).toEqual([
      [P1, T0 + 10_000 + 0.1, 5], // keys: the first sample's time, its sequence in thousandths
      [P2, T0 + 10_500 + 0.105, 5],
    ]);
  });

  it("a late batch, delivered after the reassignment, still goes to the patient who wore the device", async () => {
    await assign();
    const ingest = newIngest();
    await reassign(P2, T0 + 60_000);
    await ingest(batch(T0 + 30_000, 300));
    expect([...new Set(owners().values())]).toEqual([P1]);
  });

  it("a single reading without a time takes received_at and says so", async () => {
    const ingest = newIngest();
    await ingest({
      x: 0.01,
      y: 0.02,
      z: 0.98,
      sequence: 7,
      topic,
      client_id: "medusa-pi-01",
      received_at: T0 + 5,
    });
    const [item] = stores.sensors.all();
    expect(item?.samples[0]).toMatchObject({
      timestamp: T0 + 5,
      timestampSource: "received_at",
      sequence: 7,
    });
    expect(item?.patientId).toBe(UNASSIGNED);
  });

  it("accepts the historical rule's output, with seconds read as seconds", async () => {
    await assign();
    const ingest = newIngest();
    const r = await ingest({
      device_id: "medusa-pi-01",
      timestamp: (T0 + 2_000) / 1000,
      accel_x: 0.01,
      accel_y: 0.02,
      accel_z: 0.98,
      magnitude: 0.9802,
      temperature: 24,
      sequence: 9,
      ttl: 1,
    });
    expect(JSON.parse(r.body)).toMatchObject({
      status: "stored",
      format: "historical",
      patient_id: "P1",
    });
    expect(stores.sensors.all()[0]?.samples[0]).toMatchObject({
      timestamp: T0 + 2_000,
      temperature: 24,
    });
  });

  it("historical readings of one second are all kept, each once", async () => {
    await assign();
    const ingest = newIngest();
    const reading = (sequence: number) => ({
      device_id: "medusa-pi-01",
      timestamp: (T0 + 2_000) / 1000,
      accel_x: 0.01,
      accel_y: 0.02,
      accel_z: 0.98,
      sequence,
    });
    for (const n of [20, 21, 22, 21]) await ingest(reading(n));
    await newIngest()(reading(20)); // another container
    expect(
      stores.sensors
        .all()
        .flatMap((s) => s.samples.map((x) => x.sequence))
        .sort((a, b) => a - b),
    ).toEqual([20, 21, 22]);
  });

  it("a redelivered message is stored once", async () => {
    await assign();
    const ingest = newIngest();
    for (const _ of [1, 2, 3]) await ingest(batch(T0 + 1_000, 0));
    await newIngest()(batch(T0 + 1_000, 0)); // another container
    expect(stores.sensors.all().flatMap((s) => s.samples.map((x) => x.sequence))).toEqual(
      Array.from({ length: 10 }, (_, i) => i),
    );
  });

  it("bad input becomes a dead letter with its reason and a 400 result", async () => {
    const ingest = newIngest();
    const cases: Array<[unknown, string]> = [
      ["{not json", "payload is not JSON"],
      [[1, 2], "event must be a JSON object"],
      [{ x: 1, y: 1, z: 1, sequence: 1 }, "event has no topic"],
      [{ ...batch(T0, 0), topic: "other/medusa-pi-01/data" }, "unknown topic"],
      [
        batch(T0, 0, 10, { client_id: "medusa-pi-02" }),
        "device id mismatch between topic and client id",
      ],
      [{ ...batch(T0, 0), s: [[0, 0, 99, 0, 0]] }, "invalid sample batch"],
      [{ x: 0, y: 0, z: 1, sequence: -1, topic }, "invalid sensor reading"],
      [
        {
          device_id: "medusa-pi-01",
          timestamp: T0,
          accel_x: "a",
          accel_y: 0,
          accel_z: 1,
          sequence: 1,
        },
        "invalid historical reading",
      ],
      // A historical reading must come from the device it names, when the rule says who sent it.
      [
        {
          device_id: "medusa-pi-02",
          timestamp: T0,
          accel_x: 0,
          accel_y: 0,
          accel_z: 1,
          sequence: 1,
          client_id: "medusa-pi-01",
        },
        "device id mismatch between device_id and client id",
      ],
      // Not what the rule's timestamp() gives: a reading without a time would take it as its own.
      [{ x: 0, y: 0, z: 1, sequence: 1, topic, received_at: 1.5e16 }, "invalid received_at"],
      [{ ...batch(T0, 0), received_at: "soon" }, "invalid received_at"],
    ];
    for (const [event, reason] of cases) {
      const r = await ingest(event);
      expect([reason, r.statusCode, JSON.parse(r.body).reason]).toEqual([reason, 400, reason]);
    }
    expect(stores.deadLetters.all().map((l) => l.reason)).toEqual(
      cases.map(([, reason]) => reason),
    );
    expect(stores.deadLetters.all()[0]).toMatchObject({ payload: "{not json", source: "iot-rule" });
    expect(stores.deadLetters.all()[4]).toMatchObject({ topic, clientId: "medusa-pi-02" });
    // The letter's own time is the clock's when the event's is no time at all.
    expect(stores.deadLetters.all()[9]?.receivedAt).toBe(now);
    expect(stores.sensors.all()).toEqual([]);
  });

  it("never throws for any input", async () => {
    const ingest = newIngest();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.anything(),
          fc.record({
            topic: fc.constantFrom(topic, "x"),
            v: fc.anything(),
            s: fc.anything(),
            x: fc.anything(),
            received_at: fc.oneof(fc.double(), fc.integer(), fc.anything()),
          }),
        ),
        async (event) => {
          await expect(ingest(event)).resolves.toBeDefined();
        },
      ),
    );
  });
});

describe("re-attribution", () => {
  it("a backdated assignment re-attributes samples stored before it was recorded", async () => {
    const ingest = newIngest();
    for (let b = 0; b < 6; b++) await ingest(batch(T0 + b * 1_000, b * 10));
    expect([...new Set(owners().values())]).toEqual([UNASSIGNED]);
    // Recorded now, effective from T0 + 2,450: the device was put on P1 then.
    await assign(P1, T0 + 2_450, "late-entry");
    const [commit] = stores.events.streams()[0]!.commits;
    const report = await run(reattribute(commit!));
    expect(report.from).toBe(T0 + 2_450);
    const o = owners();
    for (let n = 0; n < 60; n++)
      expect([n, o.get(n)]).toEqual([
        n,
        T0 + Math.floor(n / 10) * 1_000 + (n % 10) * 100 >= T0 + 2_450 ? P1 : UNASSIGNED,
      ]);
  });

  it("a stale cache that writes after the first pass is corrected by the second", async () => {
    await assign();
    // Another container than the one re-attributing: its cache never hears of the commit.
    const stale = newIngest();
    await stale(batch(T0 + 1_000, 0)); // loads and caches [P1 from T0]
    await reassign(P2, T0 + 5_000);
    const commit = stores.events.streams()[0]!.commits[1]!;
    // The settle time runs on Effect's test clock, so the order is fixed, not left to timers:
    // first pass, then the stale container stores samples taken after the reassignment under
    // P1, then the settle time passes and the second pass runs.
    const [first, second] = await run(
      Effect.gen(function* () {
        const passes = yield* Effect.fork(reattributeAndSettle(commit, { settleMs: 45_000 }));
        while ((yield* TestClock.sleeps()).length === 0) yield* Effect.yieldNow();
        yield* Effect.promise(() => stale(batch(T0 + 6_000, 100)));
        expect(new Set([...owners()].filter(([n]) => n >= 100).map(([, p]) => p))).toEqual(
          new Set([P1]),
        );
        yield* TestClock.adjust(45_000);
        return yield* Fiber.join(passes);
      }).pipe(Effect.provide(TestContext.TestContext)),
    );
    expect(first.rewritten).toBe(0);
    expect(second.rewritten).toBe(1);
    const o = owners();
    for (const [n, p] of o) expect([n, p]).toEqual([n, n >= 100 ? P2 : P1]);
  });

  it("a correction of the record too: a wrong patient corrected, with a stale cache writing under the wrong one after the first pass, ends with every sample the right patient's", async () => {
    await assign();
    const stale = newIngest();
    await stale(batch(T0 + 1_000, 0)); // cached: [P1 from T0]
    // Noticed later: the device was on P2 all along.
    const fixed = await command({
      _tag: "CorrectAssignmentPatient",
      commandId: commandId("fix-p2"),
      deviceId: device,
      actor: actor("charge@clinic.example"),
      now: epochMillis(T0 + 7_200_000),
      start: epochMillis(T0),
      patientId: P2,
      reason: "wrong_patient",
      note: "beds mixed up",
    });
    expect(fixed._tag).toBe("Right");
    const commit = stores.events.streams()[0]!.commits[1]!;
    const [first, second] = await run(
      Effect.gen(function* () {
        const passes = yield* Effect.fork(reattributeAndSettle(commit, { settleMs: 45_000 }));
        while ((yield* TestClock.sleeps()).length === 0) yield* Effect.yieldNow();
        yield* Effect.promise(() => stale(batch(T0 + 6_000, 100)));
        yield* TestClock.adjust(45_000);
        return yield* Fiber.join(passes);
      }).pipe(Effect.provide(TestContext.TestContext)),
    );
    // From the corrected assignment's start: the first pass moves what was stored, the second what the stale cache wrote.
    expect(first.from).toBe(T0);
    expect([first.rewritten, second.rewritten]).toEqual([1, 1]);
    for (const [n, p] of owners()) expect([n, p]).toEqual([n, P2]);
  });

  it("the second pass leaves alone what the first pass (or a fresh ingest) attributed", async () => {
    await assign();
    const ingest = newIngest();
    await ingest(batch(T0 + 1_000, 0));
    await reassign(P2, T0 + 1_500);
    const commit = stores.events.streams()[0]!.commits[1]!;
    const first = await run(reattribute(commit));
    expect([first.examined, first.rewritten]).toEqual([1, 2]);
    const second = await run(reattribute(commit, { onlyOlderThan: commit.version }));
    expect([second.examined, second.rewritten]).toEqual([0, 0]);
  });
});

describe("storage failures", () => {
  const down = new StorageUnavailable({
    store: "sensor table",
    operation: "write",
    reason: "down",
  });

  it("fail the ingest (the handler rejects, so the rule's error action sees them)", async () => {
    const broken = newIngest({ sensors: { ...stores.sensors, write: () => Effect.fail(down) } });
    await expect(broken(batch(T0, 0))).rejects.toBe(down);
    const unreadable = newIngest({
      events: {
        ...stores.events,
        load: () => Effect.fail(new EventStoreUnavailable({ operation: "load", reason: "down" })),
      },
    });
    await expect(unreadable(batch(T0, 0))).rejects.toMatchObject({
      _tag: "EventStoreUnavailable",
    });
  });

  it("SegmentsNotWritten (throttled past the deadline) fails the ingest too, naming the items", async () => {
    const throttled = newIngest({
      sensors: {
        ...stores.sensors,
        write: (segments: ReadonlyArray<StoredSegment>) =>
          Effect.fail(
            new SegmentsNotWritten({
              failed: segments.map((s) => ({ deviceId: s.deviceId, key: s.key })),
              reason: "throttled",
            }),
          ),
      },
    });
    await expect(throttled(batch(T0, 0))).rejects.toMatchObject({
      _tag: "SegmentsNotWritten",
      failed: [{ deviceId: "medusa-pi-01", key: T0 }],
    });
  });
});

describe("hostile messages (issue 13)", () => {
  const reasonOf = (r: { body: string }) => JSON.parse(r.body).reason as string;

  it("a later message with a stored message's time and sequence cannot replace its samples, after a hand-over too: it is a dead letter", async () => {
    await assign(P1, T0);
    const ingest = newIngest();
    expect((await ingest(batch(T0 + 1_000, 0))).statusCode).toBe(200);
    await reassign(P2, T0 + 60_000);
    now = T0 + 3_700_000;
    // The same first time and sequence, other values: what a forged or buggy message would send.
    const forged = batch(T0 + 1_000, 0);
    forged.s = forged.s.map((p: Array<number>) => [p[0], p[1], 0.5, 0.5, 0.5]);
    const r = await newIngest()(forged);
    expect([r.statusCode, reasonOf(r)]).toEqual([400, "conflicts with stored samples"]);
    expect(stores.sensors.all().flatMap((s) => s.samples.map((x) => x.x))).toEqual(
      Array.from({ length: 10 }, () => sampleAt(T0, 0).x),
    );
    expect([...new Set(owners().values())]).toEqual([P1]);
    expect(stores.deadLetters.all().map((l) => l.reason)).toEqual([
      "conflicts with stored samples",
    ]);
    // A redelivery of the original is still a no-op, not a conflict.
    expect((await newIngest()(batch(T0 + 1_000, 0))).statusCode).toBe(200);
  });

  it("samples far before or after their arrival, or spread over too long, are refused and kept", async () => {
    const ingest = newIngest();
    const cases: Array<[Record<string, unknown>, string]> = [
      // 31 days before it arrived: older than the 30-day retention, deleted as soon as stored.
      [
        batch(T0, 0, 10, { received_at: T0 + 31 * 86_400_000 }),
        "sample older than the retention period",
      ],
      // An hour ahead of its arrival.
      [batch(T0 + 3_600_000, 0, 10, { received_at: T0 }), "sample time ahead of the receive time"],
    ];
    // Two samples two hours apart in one message.
    const spread = batch(T0, 0, 2);
    spread.s = [spread.s[0], [7_200_000, 1, 0, 0, 1]];
    spread.received_at = T0 + 7_200_500;
    cases.push([spread, "batch spans too long"]);
    for (const [event, reason] of cases) {
      const r = await ingest(event);
      expect([reason, r.statusCode, reasonOf(r)]).toEqual([reason, 400, reason]);
    }
    expect(stores.sensors.all()).toEqual([]);
    expect(stores.deadLetters.all().map((l) => l.reason)).toEqual(cases.map(([, r]) => r));
  });

  it("a message whose samples alternate between assignments cannot make thousands of items", async () => {
    // 80 assignments of 50 ms each, and one message whose 4,000 samples fall into all of them.
    for (let k = 0; k < 80; k++) {
      await assign(k % 2 === 0 ? P1 : P2, T0 + k * 100, `alt-${k}`);
      await command({
        _tag: "ReturnDevice",
        commandId: commandId(`ret-${k}`),
        deviceId: device,
        actor: nurse,
        at: epochMillis(T0 + k * 100 + 50),
        now: epochMillis(now),
      });
    }
    const samples = Array.from({ length: 160 }, (_, i) => sampleAt(T0 + i * 50, i));
    const event = {
      ...JSON.parse(encodeSampleBatch(samples)),
      topic,
      client_id: "medusa-pi-01",
      received_at: T0 + 10_000,
    };
    const r = await newIngest()(event);
    expect([r.statusCode, reasonOf(r)]).toEqual([400, "message makes too many items"]);
    expect(stores.sensors.all()).toEqual([]);
  });

  it("fuzz: deep, prototype-keyed, huge and spread-out events are answered 200 or 400, never thrown; every 400 is kept", async () => {
    const ingest = newIngest();
    const nested = (n: number) => {
      let v: unknown = 0;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    const events = fc.oneof(
      fc.integer({ min: 33, max: 50_000 }).map((n) => ({ ...batch(T0, 0), s: [nested(n)] })),
      fc.integer({ min: 33, max: 50_000 }).map((n) => ({ ...batch(T0, 0), x: nested(n) })),
      fc
        .jsonValue({ maxDepth: 6 })
        .map((v) =>
          JSON.parse(
            `{"__proto__":${JSON.stringify(v) ?? "null"},"topic":"${topic}","x":0,"y":0,"z":1,"sequence":1}`,
          ),
        ),
      fc.integer({ min: 1, max: 4_000 }).map((n) => ({
        ...batch(T0, 0, n),
        s: Array.from({ length: n }, (_, i) => [i * 37_000, i, 0, 0, 1]),
        received_at: T0 + n * 37_000,
      })),
      fc.anything({ maxDepth: 4 }),
    );
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(events, async (event) => {
        const r = await ingest(event);
        expect([200, 400]).toContain(r.statusCode);
        if (r.statusCode === 400) rejected++;
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }),
      { numRuns: 200 },
    );
    expect(stores.deadLetters.all()).toHaveLength(rejected);
  });
});
