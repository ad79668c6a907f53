import { clockFrom, storesLayer } from "@medusa/adapters";
import { makeInMemoryStores } from "@medusa/adapters/testing";
import {
  actor,
  commandId,
  DeadLetters,
  deviceId,
  encodeSampleBatch,
  epochMillis,
  executeCommand,
  type IngestSettings,
  ingestMessages,
  messageFromRuleEvent,
  patientId,
  type SensorStoreService,
  type StoredSegment,
} from "@medusa/domain";
import { sampleAt, T0 } from "@medusa/domain/testing";
import { Effect } from "effect";
import { expect, it } from "vitest";
import { type Services, servicesLayer } from "../services.js";
import { renderIngestOutcome } from "./render.js";

const settings: IngestSettings = {
  topicTemplate: "medusa/{device_id}/sensor/data",
  source: "iot-rule",
};
const clock = clockFrom(() => T0 + 60_000);

const batch = (device: string, t0: number, n0: number, count = 10) => ({
  ...JSON.parse(
    encodeSampleBatch(Array.from({ length: count }, (_, i) => sampleAt(t0 + i * 100, n0 + i))),
  ),
  topic: `medusa/${device}/sensor/data`,
  client_id: device,
  received_at: t0 + 1_000,
});

it("ingests several events with one write, each with its own result, the same as one by one", async () => {
  const stores = makeInMemoryStores();
  const memory = stores.sensors;
  const writes: Array<number> = [];
  // The same store, counting write calls and their sizes.
  const sensors: SensorStoreService = {
    ...memory,
    write: (segments: ReadonlyArray<StoredSegment>) => {
      writes.push(segments.length);
      return memory.write(segments);
    },
  };
  const layer = servicesLayer(storesLayer({ ...stores, sensors }), { cacheTtlMs: 30_000, clock });
  const run = <A, E>(e: Effect.Effect<A, E, Services>) =>
    Effect.runPromise(Effect.provide(e, layer));
  await run(
    executeCommand({
      _tag: "AssignDevice",
      commandId: commandId("a-1"),
      deviceId: deviceId("pi-a"),
      actor: actor("nurse@clinic.example"),
      patientId: patientId("P1"),
      at: epochMillis(T0 + 500),
      now: epochMillis(T0 + 60_000),
    }),
  );
  const first = batch("pi-a", T0, 0);
  const outcomes = await run(
    ingestMessages(
      [first, batch("pi-b", T0, 0), first, { ...batch("pi-b", T0, 10), client_id: "pi-x" }].map(
        messageFromRuleEvent,
      ),
      settings,
    ),
  );
  const results = outcomes.map(renderIngestOutcome);
  expect(results.map((r) => r.statusCode)).toEqual([200, 200, 200, 400]);
  expect(results.map((r) => JSON.parse(r.body).patient_id)).toEqual([
    ["UNASSIGNED", "P1"],
    "UNASSIGNED",
    ["UNASSIGNED", "P1"],
    undefined,
  ]);
  // One write for the whole batch (the store cuts it into BatchWriteItem calls); a key once.
  expect(writes).toEqual([5]);
  const stored = memory.all();
  expect(stored.map((s) => [s.deviceId, s.patientId, s.samples.length])).toEqual(
    expect.arrayContaining([
      ["pi-a", "UNASSIGNED", 5],
      ["pi-a", "P1", 5],
      ["pi-b", "UNASSIGNED", 10],
    ]),
  );
  expect(stored).toHaveLength(3);
  expect((await run(Effect.flatMap(DeadLetters, (d) => d.recent(5)))).map((l) => l.reason)).toEqual(
    ["device id mismatch between topic and client id"],
  );
});

it("ingests MQTT messages as the rule SQL shapes them, and keeps one that is not JSON with its topic and client", async () => {
  const stores = makeInMemoryStores();
  const sensors = stores.sensors;
  const layer = servicesLayer(storesLayer(stores), { cacheTtlMs: 30_000, clock });
  const { topic, client_id, received_at, ...device } = batch("pi-m", T0, 0);
  const outcomes = await Effect.runPromise(
    Effect.provide(
      ingestMessages(
        [
          {
            topic,
            clientId: client_id,
            receivedAt: received_at,
            payload: Buffer.from(JSON.stringify(device)),
          },
          { topic, clientId: client_id, receivedAt: received_at, payload: "{not json" },
          { topic, clientId: "pi-other", receivedAt: received_at, payload: JSON.stringify(device) },
          // A JSON string holding another device's historical reading, on pi-m's own topic.
          {
            topic,
            clientId: client_id,
            receivedAt: received_at,
            payload: JSON.stringify(
              JSON.stringify({
                device_id: "pi-victim",
                timestamp: T0,
                accel_x: 0,
                accel_y: 0,
                accel_z: 1,
                sequence: 7,
              }),
            ),
          },
          { topic, clientId: client_id, receivedAt: received_at, payload: "42" },
        ],
        { ...settings, source: "mqtt" },
      ),
      layer,
    ),
  );
  const results = outcomes.map(renderIngestOutcome);
  expect(results.map((r) => r.statusCode)).toEqual([200, 400, 400, 400, 400]);
  expect(sensors.all().map((s) => [s.deviceId, s.samples.length])).toEqual([["pi-m", 10]]);
  const kept = await Effect.runPromise(
    Effect.provide(
      Effect.flatMap(DeadLetters, (d) => d.recent(5)),
      layer,
    ),
  );
  expect(kept).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        reason: "payload is not JSON",
        topic,
        clientId: "pi-m",
        payload: "{not json",
        receivedAt: received_at,
      }),
      expect.objectContaining({
        reason: "device id mismatch between topic and client id",
        clientId: "pi-other",
      }),
      // Kept with who sent it.
      expect.objectContaining({ reason: "payload must be a JSON object", topic, clientId: "pi-m" }),
    ]),
  );
  expect(kept.filter((l) => l.reason === "payload must be a JSON object")).toHaveLength(2);
});
