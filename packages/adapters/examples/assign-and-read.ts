import { strict as assert } from "node:assert";
import { clockFrom, intervalCacheLayer, storesLayer } from "@medusa/adapters";
import { makeInMemoryStores } from "@medusa/adapters/testing";
import {
  actor,
  commandId,
  deviceId,
  encodeSampleBatch,
  epochMillis,
  executeRequest,
  ingestMessages,
  patientId,
  patientTimeline,
} from "@medusa/domain";
import { Effect, Layer } from "effect";

// One layer provides every port the use cases need. The in-memory twins pass
// the same contract suites as the DynamoDB stores: swap in
// `dynamoLayer(settings)` for the real thing, and `systemClock` for the clock.
const at = epochMillis(Date.parse("2026-11-20T08:00:00Z"));
const stores = storesLayer(makeInMemoryStores());
const ports = Layer.provideMerge(
  intervalCacheLayer(),
  Layer.merge(
    stores,
    clockFrom(() => at),
  ),
);

const device = deviceId("medusa-pi-01");
const program = Effect.gen(function* () {
  // A clinician assigns the device (recorded, and in effect, now).
  const outcome = yield* executeRequest({
    _tag: "AssignDevice",
    commandId: commandId("assign-1"),
    deviceId: device,
    actor: actor("nurse@clinic.example"),
    patientId: patientId("alice"),
  });
  assert.equal(outcome.commit.version, 1);

  // The device publishes a batch; the ingest attributes it to Alice.
  const [stored] = yield* ingestMessages(
    [
      {
        topic: `medusa/${device}/sensor/data`,
        clientId: device,
        receivedAt: at + 1_000,
        payload: encodeSampleBatch([
          { timestamp: epochMillis(at + 100), sequence: 1, x: 0, y: 0, z: 1, magnitude: 1 },
        ]),
      },
    ],
    { topicTemplate: "medusa/{device_id}/sensor/data", source: "example" },
  );
  assert.equal(stored?._tag === "Stored" && stored.patientIds[0], "alice");

  // Alice's timeline holds it.
  const page = yield* patientTimeline(
    patientId("alice"),
    { start: at, end: at + 1_000 },
    { limit: 100 },
  );
  assert.deepEqual(
    page.samples.map((s) => [s.deviceId, s.sequence]),
    [["medusa-pi-01", 1]],
  );
});

await Effect.runPromise(Effect.provide(program, ports));
