import { strict as assert } from "node:assert";
import {
  type AssignmentCommand,
  type AssignmentEvent,
  actor,
  auditTrail,
  commandId,
  DeviceAlreadyAssigned,
  decide,
  deviceId,
  enrich,
  epochMillis,
  intervalsOf,
  parseSensorPayload,
  patientId,
  replay,
  samplesOf,
} from "@medusa/domain";
import { Either } from "effect";

const device = deviceId("medusa-pi-01");
const nurse = actor("nurse@clinic.example");
const at = (iso: string) => epochMillis(Date.parse(iso));

// The device's stream: every accepted command appends its events.
const log: AssignmentEvent[] = [];
const run = (command: AssignmentCommand) => {
  const decision = decide(command, replay(log)); // events, or a typed rejection
  if (Either.isRight(decision)) log.push(...decision.right);
  return decision;
};

// 08:00 the device goes on Alice.
run({
  _tag: "AssignDevice",
  commandId: commandId("c1"),
  deviceId: device,
  actor: nurse,
  patientId: patientId("alice"),
  patientName: "Alice",
  at: at("2026-11-20T08:00:00Z"),
  now: at("2026-11-20T08:00:00Z"),
});

// Assigning it to Bob while Alice wears it is refused, and says who wears it.
const refused = run({
  _tag: "AssignDevice",
  commandId: commandId("c2"),
  deviceId: device,
  actor: nurse,
  patientId: patientId("bob"),
  at: at("2026-11-20T09:00:00Z"),
  now: at("2026-11-20T09:00:00Z"),
});
assert.ok(Either.isLeft(refused) && refused.left instanceof DeviceAlreadyAssigned);
assert.equal(refused.left.current.patientId, "alice");

// 12:00 it is handed over to Bob: one commit ends Alice's assignment and starts Bob's.
const handover = run({
  _tag: "ReassignDevice",
  commandId: commandId("c3"),
  deviceId: device,
  actor: nurse,
  patientId: patientId("bob"),
  patientName: "Bob",
  reason: "completed",
  at: at("2026-11-20T12:00:00Z"),
  now: at("2026-11-20T12:00:00Z"),
});
assert.deepEqual(
  Either.getOrThrow(handover).map((e) => e._tag),
  ["AssignmentEnded", "DeviceAssigned"],
);

// At 12:05 a batch arrives late: taken from 11:59:59.8 to 12:00:00.1, across the handover.
const late = Either.getOrThrow(
  parseSensorPayload(
    JSON.stringify({
      v: 1,
      t0: at("2026-11-20T11:59:59.800Z"),
      n0: 500,
      s: [
        [0, 0, 0.01, 0.02, 0.98],
        [100, 1, 0.02, 0.01, 0.99],
        [200, 2, 0.11, 0.05, 1.02],
        [300, 3, 0.1, 0.04, 1.01],
      ],
    }),
  ),
);

// Enrichment is by event time: the samples before 12:00 are Alice's, the rest Bob's.
const segments = enrich(device, samplesOf(late, Date.now()), intervalsOf(log));
assert.deepEqual(
  segments.map((s) => [s.patientId, s.samples.map((x) => x.sequence)]),
  [
    ["alice", [500, 501]],
    ["bob", [502, 503]],
  ],
);

// The audit trail, newest first: who, when, by whom, why it ended.
assert.deepEqual(
  auditTrail(intervalsOf(log)).map((i) => [
    i.patientId,
    i.start,
    i.end,
    i.endReason ?? null,
    i.assignedBy,
  ]),
  [
    ["bob", at("2026-11-20T12:00:00Z"), null, null, "nurse@clinic.example"],
    [
      "alice",
      at("2026-11-20T08:00:00Z"),
      at("2026-11-20T12:00:00Z"),
      "completed",
      "nurse@clinic.example",
    ],
  ],
);
