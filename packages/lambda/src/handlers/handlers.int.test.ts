import { commitItem, type DynamoStores, makeDynamoStores } from "@medusa/adapters";
import { testTables } from "@medusa/adapters/testing";
import {
  actor,
  commandId,
  deviceId,
  EventStore,
  encodeSampleBatch,
  epochMillis,
  executeCommand,
  patientId,
} from "@medusa/domain";
import { sampleAt } from "@medusa/domain/testing";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

let stores: DynamoStores;
let drop: () => Promise<void>;
let env: Record<string, string>;
let ingestHandler: (event: unknown) => Promise<{ statusCode: number; body: string }>;
let reattributeHandler: (event: { Records: Array<unknown> }) => Promise<unknown>;

beforeAll(async () => {
  const t = await testTables(inject("dynamoEndpoint"));
  drop = t.drop;
  stores = makeDynamoStores({ client: t.client, tables: t.tables });
  env = {
    AWS_REGION: "local",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
    MEDUSA_EVENTS_TABLE: t.tables.events,
    MEDUSA_MAPPING_TABLE: t.tables.mapping,
    MEDUSA_SENSOR_TABLE: t.tables.sensor,
    MEDUSA_DEAD_LETTER_TABLE: t.tables.deadLetters,
    // Re-attribution also writes who wears a device into its status row (the gap detector's).
    MEDUSA_DEVICE_STATUS_TABLE: t.tables.deviceStatuses,
    MEDUSA_ALERTS_TABLE: t.tables.alerts,
    // No interval cache and a test's ingest takes well under 100 ms, so the second pass
    // may follow the first after 100 ms.
    MEDUSA_INTERVAL_CACHE_TTL_MS: "0",
    MEDUSA_INGEST_TIMEOUT_MS: "100",
    MEDUSA_REATTRIBUTION_SETTLE_MS: "100",
  };
  // The SDK reads credentials from the process environment.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" });
  ingestHandler = (await import("./ingest.js")).makeIngestHandler(env);
  reattributeHandler = (await import("./reattribute.js")).makeReattributeHandler(env) as never;
});
afterAll(() => drop());

/**
 * Samples from an hour ago, not from the fixed 2024 `T0`: the ingest gives
 * every item a TTL 30 days after its samples, and DynamoDB Local's TTL sweeper
 * deletes expired items whenever it runs — which made this test read back
 * nothing when the sweeper ran between the write and the read.
 */
const T0 = Math.floor(Date.now() / 1000) * 1000 - 3_600_000;
const device = deviceId(`pi-handlers-${Date.now()}`);
const nurse = actor("nurse@clinic.example");
const topic = `medusa/${device}/sensor/data`;
const batch = (t0: number, n0: number) => ({
  ...JSON.parse(
    encodeSampleBatch(Array.from({ length: 10 }, (_, i) => sampleAt(t0 + i * 100, n0 + i))),
  ),
  topic,
  client_id: device,
  received_at: t0 + 1_000,
});

describe("Lambda handlers on DynamoDB Local", () => {
  it("ingest stores, dead-letters bad input, and re-attribution fixes a backdated assignment", async () => {
    const stored = await ingestHandler(batch(T0, 0));
    expect(JSON.parse(stored.body)).toMatchObject({ status: "stored", patient_id: "UNASSIGNED" });
    const before = await Effect.runPromise(
      stores.sensors.deviceSegments(device, { start: T0, end: T0 + 10_000 }),
    );
    expect(before.map((s) => [s.patientId, s.samples.length])).toEqual([["UNASSIGNED", 10]]);
    const bad = await ingestHandler({
      ...batch(T0, 0),
      client_id: "someone-else",
      received_at: Date.now(),
    });
    expect(bad.statusCode).toBe(400);
    const letters = await Effect.runPromise(stores.deadLetters.recent(10));
    expect(letters.map((l) => l.reason)).toContain(
      "device id mismatch between topic and client id",
    );

    const outcome = await Effect.runPromise(
      Effect.provideService(
        executeCommand({
          _tag: "AssignDevice",
          commandId: commandId("backdated"),
          deviceId: device,
          actor: nurse,
          patientId: patientId("P-9"),
          at: epochMillis(T0 + 500),
          now: epochMillis(T0 + 60_000),
        }),
        EventStore,
        stores.events,
      ),
    );
    const report = await reattributeHandler({
      Records: [{ eventName: "INSERT", dynamodb: { NewImage: commitItem(outcome.commit) } }],
    });
    expect(report).toMatchObject({
      reattributed: [{ examined: 1, rewritten: 2 }, { examined: 0 }],
    });
    const items = await Effect.runPromise(
      stores.sensors.deviceSegments(device, { start: T0, end: T0 + 10_000 }),
    );
    expect(items.map((s) => [s.patientId, s.samples.map((x) => x.sequence)])).toEqual([
      ["UNASSIGNED", [0, 1, 2, 3, 4]],
      ["P-9", [5, 6, 7, 8, 9]],
    ]);
    const timeline = await Effect.runPromise(
      stores.sensors.patientTimeline(
        patientId("P-9"),
        { start: T0, end: T0 + 10_000 },
        { limit: 100 },
      ),
    );
    expect(timeline.samples.map((x) => x.sequence)).toEqual([5, 6, 7, 8, 9]);
  });

  it("a storage failure rejects, so the rule's error action sees it; bad input never does", async () => {
    const broken = (await import("./ingest.js")).makeIngestHandler({
      ...env,
      MEDUSA_SENSOR_TABLE: `missing-${Date.now()}`,
      MEDUSA_DEAD_LETTER_TABLE: `missing-${Date.now()}`,
    });
    await expect(broken(batch(T0 + 20_000, 200))).rejects.toMatchObject({
      _tag: "StorageUnavailable",
      operation: "write",
    });
    // Dead-lettering bad input needs its table too: when that fails, the handler rejects as well.
    await expect(broken("{not json")).rejects.toMatchObject({ _tag: "StorageUnavailable" });
    const ok = await ingestHandler("{not json");
    expect(ok.statusCode).toBe(400);
  });
});
