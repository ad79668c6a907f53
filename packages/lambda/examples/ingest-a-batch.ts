import { strict as assert } from "node:assert";
import {
  makeInMemoryDeadLetters,
  makeInMemoryEventStore,
  makeInMemorySensorStore,
} from "@medusa/adapters";
import { DeadLetters, EventStore, SensorStore } from "@medusa/domain";
import { makeIngest } from "@medusa/lambda";
import { Effect, Layer } from "effect";

const sensors = makeInMemorySensorStore();
const stores = Layer.mergeAll(
  Layer.succeed(EventStore, makeInMemoryEventStore()),
  Layer.succeed(SensorStore, sensors),
  Layer.succeed(DeadLetters, makeInMemoryDeadLetters()),
);
const { ingest } = makeIngest();

// What the IoT rule delivers: the device's batch plus topic, client id and receive time.
const result = await Effect.runPromise(
  ingest({
    v: 1,
    t0: 1763625600000,
    n0: 42,
    s: [
      [0, 0, 0.01, 0.02, 0.98],
      [100, 1, 0.02, 0.01, 0.99],
    ],
    topic: "medusa/medusa-pi-01/sensor/data",
    client_id: "medusa-pi-01",
    received_at: 1763625600250,
  }).pipe(Effect.provide(stores)),
);
assert.deepEqual(JSON.parse(result.body), {
  device_id: "medusa-pi-01",
  patient_id: "UNASSIGNED",
  status: "stored",
  format: "batch",
  samples: 2,
  segments: 1,
  written: 1,
});
assert.equal(sensors.all()[0]?.samples.length, 2);
