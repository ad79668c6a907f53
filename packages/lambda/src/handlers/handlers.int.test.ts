import { commitItem, type DynamoStores, makeDynamoStores, testTables } from "@medusa/adapters";
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
import { sampleAt, T0 } from "@medusa/domain/testing";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

let stores: DynamoStores;
let drop: () => Promise<void>;
let ingestHandler: (event: unknown) => Promise<{ statusCode: number; body: string }>;
let reattributeHandler: (event: { Records: Array<unknown> }) => Promise<unknown>;

beforeAll(async () => {
  const t = await testTables(inject("dynamoEndpoint"));
  drop = t.drop;
  stores = makeDynamoStores({ client: t.client, tables: t.tables });
  const env = {
    AWS_REGION: "local",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
    MEDUSA_EVENTS_TABLE: t.tables.events,
    MEDUSA_MAPPING_TABLE: t.tables.mapping,
    MEDUSA_SENSOR_TABLE: t.tables.sensor,
    MEDUSA_DEAD_LETTER_TABLE: t.tables.deadLetters,
    MEDUSA_REATTRIBUTION_SETTLE_MS: "100",
  };
  // The SDK reads credentials from the process environment.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" });
  ingestHandler = (await import("./ingest.js")).makeIngestHandler(env);
  reattributeHandler = (await import("./reattribute.js")).makeReattributeHandler(env) as never;
});
afterAll(() => drop());

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
});
