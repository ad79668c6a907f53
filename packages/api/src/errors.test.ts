import * as domain from "@medusa/domain";
import {
  AlertNotFound,
  AssignmentAlreadyRetracted,
  AssignmentBelongsToAnotherPatient,
  AssignmentNotEnded,
  AssignmentNotFound,
  AssignmentsWouldOverlap,
  actor,
  CorrectionChangesNothing,
  DeviceAlreadyAssigned,
  DeviceJobRejected,
  DeviceJobsUnavailable,
  DeviceNotRegistered,
  DeviceShadowNotFound,
  DeviceShadowRejected,
  DeviceShadowUnavailable,
  deviceId,
  EmptyAssignmentInterval,
  EventStoreUnavailable,
  EventTimeBeforeLastEvent,
  EventTimeInFuture,
  epochMillis,
  InvalidCursor,
  NoActiveAssignment,
  patientId,
  SegmentsNotWritten,
  StorageUnavailable,
  ThingCertificatesUnavailable,
  VersionConflict,
} from "@medusa/domain";
import { Arbitrary, FastCheck } from "effect";
import { expect, it } from "vitest";
import { problemFor } from "./errors.js";

const d = deviceId("pi-1");
const t = epochMillis(1_731_622_400_000);

it("every typed failure maps to a stable status and problem type; anything else is not mapped", () => {
  const cases: Array<[unknown, number, string]> = [
    [
      new DeviceAlreadyAssigned({
        deviceId: d,
        current: {
          deviceId: d,
          patientId: patientId("P1"),
          assignedBy: actor("n@c.example"),
          start: t,
        },
      }),
      409,
      "device-already-assigned",
    ],
    [new NoActiveAssignment({ deviceId: d }), 404, "no-active-assignment"],
    [
      new AssignmentBelongsToAnotherPatient({
        deviceId: d,
        patientId: patientId("P2"),
        currentPatientId: patientId("P1"),
      }),
      409,
      "assignment-belongs-to-another-patient",
    ],
    [
      new EventTimeBeforeLastEvent({ deviceId: d, at: t, lastEventAt: t }),
      422,
      "time-before-last-event",
    ],
    [
      new EventTimeInFuture({ deviceId: d, at: t, now: t, maxSkewMs: 60_000 }),
      422,
      "time-in-future",
    ],
    [new EmptyAssignmentInterval({ deviceId: d, start: t, at: t }), 422, "empty-assignment"],
    [new VersionConflict({ deviceId: d, expectedVersion: 1 }), 409, "concurrent-change"],
    [new InvalidCursor({ reason: "x" }), 400, "invalid-cursor"],
    [new AlertNotFound({ alertId: "gap.pi-1.1.2" }), 404, "alert-not-found"],
    [new EventStoreUnavailable({ operation: "load", reason: "x" }), 503, "storage-unavailable"],
    [
      new StorageUnavailable({ store: "s", operation: "o", reason: "x" }),
      503,
      "storage-unavailable",
    ],
    [new SegmentsNotWritten({ failed: [], reason: "x" }), 503, "storage-unavailable"],
    // Corrections of the record.
    [new AssignmentNotFound({ deviceId: d, start: t }), 404, "assignment-not-found"],
    [
      new AssignmentAlreadyRetracted({ deviceId: d, start: t, retractedAt: t }),
      409,
      "assignment-retracted",
    ],
    [
      new AssignmentsWouldOverlap({
        deviceId: d,
        start: t,
        end: null,
        conflicting: { patientId: patientId("P3"), start: t, end: null },
      }),
      409,
      "assignments-would-overlap",
    ],
    [new CorrectionChangesNothing({ deviceId: d, start: t }), 422, "correction-changes-nothing"],
    [new AssignmentNotEnded({ deviceId: d, start: t }), 409, "assignment-not-ended"],
    [new DeviceShadowNotFound({ deviceId: d }), 404, "device-shadow-not-found"],
    [new DeviceJobRejected({ deviceId: d, reason: "x" }), 422, "job-refused"],
    [new DeviceNotRegistered({ deviceId: d }), 404, "device-not-registered"],
    [new DeviceJobsUnavailable({ operation: "list", reason: "x" }), 503, "jobs-unavailable"],
    [
      new ThingCertificatesUnavailable({ operation: "list", reason: "x" }),
      503,
      "certificates-unavailable",
    ],
    [new DeviceShadowRejected({ deviceId: d, code: 409, reason: "x" }), 409, "concurrent-change"],
    [new DeviceShadowRejected({ deviceId: d, code: 413, reason: "x" }), 413, "shadow-too-large"],
    [new DeviceShadowRejected({ deviceId: d, code: 429, reason: "x" }), 503, "shadow-busy"],
    [new DeviceShadowRejected({ deviceId: d, code: 400, reason: "x" }), 422, "shadow-refused"],
    [new DeviceShadowUnavailable({ operation: "get", reason: "x" }), 503, "shadow-unavailable"],
  ];
  for (const [error, status, type] of cases) {
    expect(problemFor(error)).toMatchObject({
      status,
      type: `https://medusa-link.dev/problems/${type}`,
    });
  }
  // A problem never leaks who the other patient is, or storage internals.
  expect(JSON.stringify(problemFor(cases[2]?.[0]))).not.toContain("P1");
  expect(JSON.stringify(problemFor(cases[9]?.[0]))).not.toContain("x");
  // An overlap names the conflicting assignment.
  expect(problemFor(cases.find(([e]) => e instanceof AssignmentsWouldOverlap)?.[0])).toMatchObject({
    conflicting: { patient_id: "P3", assignment_timestamp: t, assignment_end: null },
  });
  for (const other of [new Error("boom"), { _tag: "Unknown" }, null, "text"]) {
    expect(problemFor(other)).toBeUndefined();
  }
});

it("every typed error the domain exports has a status, unless no route can meet it (the mapping fails on a new one)", () => {
  // Errors that never reach an HTTP route: the ingest's dead letters, start-up configuration,
  // the gap detector's announcements (SNS).
  const notMet = new Set([
    "InvalidPayload",
    "InvalidTopicTemplate",
    "InvalidRuleName",
    "AlertNotDelivered",
  ]);
  const errorClasses = Object.entries(domain).filter(
    ([, v]) => typeof v === "function" && v.prototype instanceof Error,
  );
  expect(errorClasses.length).toBeGreaterThan(10);
  for (const [name, errorClass] of errorClasses) {
    if (notMet.has(name)) continue;
    // Instances drawn from the error's own schema, so every field is filled.
    for (const error of FastCheck.sample(Arbitrary.make(errorClass as never), 5)) {
      expect(problemFor(error), `${name} has no problem`).toMatchObject({
        status: expect.any(Number),
        type: expect.stringMatching(/^https:\/\/medusa-link\.dev\/problems\//),
      });
    }
  }
});
