import { strict as assert } from "node:assert";
import {
  makeInMemoryEventStore,
  makeInMemoryReadModel,
  makeInMemorySensorStore,
} from "@medusa/adapters";
import {
  actor,
  commandId,
  deviceId,
  EventStore,
  enrich,
  epochMillis,
  executeCommand,
  patientId,
  segmentKey,
} from "@medusa/domain";
import { Effect } from "effect";

// The in-memory twins pass the same contract suites as the DynamoDB stores;
// swap in makeDynamoStores({ client, tables }) for the real thing.
const events = makeInMemoryEventStore();
const readModel = makeInMemoryReadModel(events);
const sensors = makeInMemorySensorStore();

const device = deviceId("medusa-pi-01");
const at = epochMillis(Date.parse("2026-11-20T08:00:00Z"));
const outcome = await Effect.runPromise(
  executeCommand({
    _tag: "AssignDevice",
    commandId: commandId("assign-1"),
    deviceId: device,
    actor: actor("nurse@clinic.example"),
    patientId: patientId("alice"),
    at,
    now: at,
  }).pipe(Effect.provideService(EventStore, events)),
);
assert.equal(outcome.commit.version, 1);

const intervals = await Effect.runPromise(readModel.deviceIntervals(device));
const [segment] = enrich(
  device,
  [{ timestamp: epochMillis(at + 100), sequence: 1, x: 0, y: 0, z: 1, magnitude: 1 }],
  intervals,
);
assert.ok(segment);
await Effect.runPromise(
  sensors.write([{ ...segment, timestamp: segmentKey(segment.samples), attributedVersion: 1 }]),
);

const page = await Effect.runPromise(
  sensors.patientTimeline(patientId("alice"), { start: at, end: at + 1_000 }, { limit: 100 }),
);
assert.deepEqual(
  page.samples.map((s) => [s.deviceId, s.sequence]),
  [["medusa-pi-01", 1]],
);
