import { commitItem, type DynamoStores, makeDynamoStores } from "@medusa/adapters";
import { dynamoStreamReader, type StreamRecordJson, testTables } from "@medusa/adapters/testing";
import {
  type ActivityBlock,
  activityBlocksOf,
  BLOCK_MS,
  blockStartOf,
  commandId,
  DEFAULT_EPOCH_MS,
  DeadLetters,
  deviceId,
  EventStore,
  encodeSampleBatch,
  epochMillis,
  executeCommand,
  type PatientId,
  patientId,
  type Sample,
  actor as toActor,
} from "@medusa/domain";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { ActivityStreamOutcome, SensorStreamEvent } from "./activity.js";

let stores: DynamoStores;
let drop: () => Promise<void>;
let env: Record<string, string>;
let stream: Awaited<ReturnType<typeof dynamoStreamReader>>;
let ingest: (event: unknown) => Promise<{ statusCode: number; body: string }>;
let reattribute: (event: { Records: Array<unknown> }) => Promise<unknown>;
let activity: (event: SensorStreamEvent) => Promise<ActivityStreamOutcome>;

beforeAll(async () => {
  const endpoint = inject("dynamoEndpoint");
  const t = await testTables(endpoint);
  drop = t.drop;
  stores = makeDynamoStores({ client: t.client, tables: t.tables });
  env = {
    AWS_REGION: "local",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    MEDUSA_EVENTS_TABLE: t.tables.events,
    MEDUSA_MAPPING_TABLE: t.tables.mapping,
    MEDUSA_SENSOR_TABLE: t.tables.sensor,
    MEDUSA_DEAD_LETTER_TABLE: t.tables.deadLetters,
    MEDUSA_DEVICE_STATUS_TABLE: t.tables.deviceStatuses,
    MEDUSA_ALERTS_TABLE: t.tables.alerts,
    MEDUSA_ACTIVITY_TABLE: t.tables.activity,
    MEDUSA_INTERVAL_CACHE_TTL_MS: "0",
    MEDUSA_INGEST_TIMEOUT_MS: "100",
    MEDUSA_REATTRIBUTION_SETTLE_MS: "100",
  };
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" });
  stream = await dynamoStreamReader(endpoint, t.tables.sensor);
  ingest = (await import("./ingest.js")).makeIngestHandler(env);
  reattribute = (await import("./reattribute.js")).makeReattributeHandler(env) as never;
  activity = (await import("./activity.js")).makeActivityHandler(env);
}, 60_000);
afterAll(() => drop());

// Recent samples (DynamoDB Local's TTL sweeper deletes items past their TTL), on a block boundary.
const T0 = blockStartOf(Date.now() - 3 * 3_600_000);
const MINUTES = 20;
const SWAP = T0 + 7.5 * 60_000;
const device = deviceId(`pi-activity-${Date.now()}`);
const nurse = toActor("nurse@clinic.example");
const P1 = patientId("P-act-1");
const P2 = patientId("P-act-2");

/** Walking at 1.8 steps a second for the first half, sitting still after: real metrics, steps and none. */
const samples: ReadonlyArray<Sample> = Array.from({ length: MINUTES * 600 }, (_, i) => {
  const t = T0 + i * 100;
  const walking = i < MINUTES * 300;
  const z = walking ? 1 + 0.35 * Math.sin(2 * Math.PI * 1.8 * (i / 10)) : 0.98;
  const x = walking ? 0.1 * Math.cos(2 * Math.PI * 0.9 * (i / 10)) : 0.01;
  return {
    timestamp: epochMillis(t),
    sequence: i % 65_536,
    x,
    y: -0.02,
    z,
    magnitude: Math.sqrt(x * x + 0.02 ** 2 + z * z),
  };
});

const options = { epochMs: DEFAULT_EPOCH_MS, retentionMs: 30 * 24 * 3_600_000 };

/** What a patient's blocks must be: computed from the raw samples they wore, nothing stored. */
const expectedBlocks = (
  patient: PatientId,
  worn: (s: Sample) => boolean,
): ReadonlyArray<ActivityBlock> => {
  const mine = samples.filter(worn);
  const starts: Array<number> = [];
  for (let b = T0 - BLOCK_MS; b < T0 + (MINUTES + 30) * 60_000; b += BLOCK_MS) starts.push(b);
  return activityBlocksOf(
    device,
    [
      {
        deviceId: device,
        patientId: patient,
        patientName: null,
        assignmentStart: null,
        ttl: 0,
        samples: mine,
      },
    ],
    starts,
    options,
  );
};

const storedBlocks = (patient: PatientId) =>
  Effect.runPromise(
    stores.activity.patientBlocks(patient, { start: T0 - 2 * BLOCK_MS, end: T0 + 4 * BLOCK_MS }),
  );

const event = (records: ReadonlyArray<StreamRecordJson>): SensorStreamEvent => ({
  Records: records as SensorStreamEvent["Records"],
});

const run = <A, E>(effect: Effect.Effect<A, E, EventStore>) =>
  Effect.runPromise(Effect.provideService(effect, EventStore, stores.events));

describe("activity from the sensor table's stream (DynamoDB Local)", () => {
  let ingested: Array<StreamRecordJson> = [];

  it("computes a patient's epochs from what the ingest wrote, as the stream delivers it", async () => {
    await run(
      executeCommand({
        _tag: "AssignDevice",
        commandId: commandId("act-assign"),
        deviceId: device,
        actor: nurse,
        patientId: P1,
        at: epochMillis(T0 - 60_000),
        now: epochMillis(T0 - 60_000),
      }),
    );
    for (let i = 0; i < samples.length; i += 100) {
      const batch = samples.slice(i, i + 100);
      const out = await ingest({
        ...JSON.parse(encodeSampleBatch(batch)),
        topic: `medusa/${device}/sensor/data`,
        client_id: device,
        received_at: (batch.at(-1)?.timestamp ?? T0) + 500,
      });
      expect(out.statusCode).toBe(200);
    }
    ingested = await stream.next();
    expect(ingested.length).toBe(samples.length / 100);
    expect(ingested.every((r) => r.eventName === "INSERT")).toBe(true);
    // As Lambda delivers it: the packed samples are base64 text, not bytes.
    const image = ingested[0]?.dynamodb.NewImage as { b?: { B?: unknown } } | undefined;
    expect(typeof image?.b?.B).toBe("string");

    const outcome = await activity(event(ingested));
    expect(outcome.batchItemFailures).toEqual([]);
    expect(outcome.deadLettered).toBe(0);
    expect(outcome.refreshed.devices).toBe(1);
    const expected = expectedBlocks(P1, () => true);
    expect(expected.length).toBe(2);
    expect(expected.some((b) => b.epochs.some((e) => e.steps > 0))).toBe(true);
    expect(await storedBlocks(P1)).toEqual(expected);
  }, 120_000);

  it("a reassignment moving samples: both patients' epochs equal the recomputation from the raw samples", async () => {
    const outcome = await run(
      executeCommand({
        _tag: "ReassignDevice",
        commandId: commandId("act-swap"),
        deviceId: device,
        actor: nurse,
        patientId: P2,
        reason: "completed",
        // Backdated into the middle of the first block: both patients share it.
        at: epochMillis(SWAP),
        now: epochMillis(Date.now()),
      }),
    );
    await reattribute({
      Records: [{ eventName: "INSERT", dynamodb: { NewImage: commitItem(outcome.commit) } }],
    });
    const moved = await stream.next();
    expect(new Set(moved.map((r) => r.eventName)).size).toBeGreaterThan(0);
    const report = await activity(event(moved));
    expect(report.batchItemFailures).toEqual([]);
    expect(report.refreshed.written + report.refreshed.removed).toBeGreaterThan(0);

    const p1 = expectedBlocks(P1, (s) => s.timestamp < SWAP);
    const p2 = expectedBlocks(P2, (s) => s.timestamp >= SWAP);
    expect(p1.map((b) => b.start)).toEqual([T0]);
    expect(p2.map((b) => b.start)).toEqual([T0, T0 + BLOCK_MS]);
    expect(await storedBlocks(P1)).toEqual(p1);
    expect(await storedBlocks(P2)).toEqual(p2);

    // Redelivered (the same batch again, and the ingest's batch late): nothing changes.
    for (const again of [moved, ingested]) {
      const redelivered = await activity(event(again));
      expect(redelivered.batchItemFailures).toEqual([]);
      expect(redelivered.refreshed).toMatchObject({ written: 0, removed: 0 });
    }
    expect(await storedBlocks(P1)).toEqual(p1);
    expect(await storedBlocks(P2)).toEqual(p2);
  }, 120_000);

  it("a malformed record is dead-lettered with its reason and holds up nothing; TTL deletions are skipped", async () => {
    const [good] = ingested;
    if (!good) throw new Error("no record");
    const image = good.dynamodb.NewImage as Record<string, unknown>;
    const malformed: StreamRecordJson = {
      ...good,
      eventID: "malformed-1",
      dynamodb: {
        ...good.dynamodb,
        SequenceNumber: "000000000000000000000001",
        NewImage: { ...image, b: { B: "not base64!" } },
      },
    };
    const expired: StreamRecordJson = {
      ...good,
      eventName: "REMOVE",
      userIdentity: { type: "Service", principalId: "dynamodb.amazonaws.com" },
      dynamodb: { ...good.dynamodb, OldImage: image, NewImage: undefined },
    };
    const outcome = await activity(event([malformed, good, expired]));
    expect(outcome).toMatchObject({ batchItemFailures: [], deadLettered: 1, expired: 1 });
    expect(outcome.refreshed.devices).toBe(1);
    const letters = await Effect.runPromise(
      Effect.flatMap(DeadLetters, (d) => d.recent(10)).pipe(
        Effect.provideService(DeadLetters, stores.deadLetters),
      ),
    );
    const letter = letters.find((l) => l.source === "sensor-stream");
    expect(letter?.reason).toMatch(/^unreadable sensor stream record: NewImage: .*B is not base64/);
    expect(letter?.clientId).toBe(device);
    expect(JSON.parse(letter?.payload ?? "{}").eventID).toBe("malformed-1");
    // Redelivered, the record's letter is the same letter.
    await activity(event([malformed]));
    const again = await Effect.runPromise(stores.deadLetters.recent(10));
    expect(again.filter((l) => l.source === "sensor-stream").length).toBe(1);
  }, 60_000);

  it("a device whose refresh fails reports its records for retry", async () => {
    const broken = (await import("./activity.js")).makeActivityHandler({
      ...env,
      MEDUSA_ACTIVITY_TABLE: "no-such-activity-table",
    });
    const records = ingested.slice(0, 3);
    const outcome = await broken(event(records));
    expect(outcome.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      records.map((r) => r.dynamodb.SequenceNumber).sort(),
    );
  }, 60_000);
});
