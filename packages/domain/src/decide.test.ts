import { describe, expect, it } from "vitest";
import type { AssignmentEnded, DeviceAssigned } from "./assignment.js";
import type { AssignDevice, EndAssignment, ReassignDevice, ReturnDevice } from "./commands.js";
import { defaultPolicy } from "./decide.js";
import {
  AssignmentBelongsToAnotherPatient,
  DeviceAlreadyAssigned,
  EmptyAssignmentInterval,
  EventTimeBeforeLastEvent,
  EventTimeInFuture,
  NoActiveAssignment,
} from "./errors.js";
import { actor, commandId, deviceId, epochMillis, patientId } from "./ids.js";
import { given } from "./testing/given.js";

const device = deviceId("medusa-pi-01");
const alice = patientId("P-1001");
const bob = patientId("P-1002");
const nurse = actor("nurse@clinic.example");
const t = (minutes: number) => epochMillis(1_731_622_400_000 + minutes * 60_000);

const assigned = (patient = alice, at = t(0)): DeviceAssigned => ({
  _tag: "DeviceAssigned",
  deviceId: device,
  patientId: patient,
  assignedBy: nurse,
  at,
});
const ended = (
  patient = alice,
  at = t(60),
  reason: AssignmentEnded["reason"] = "completed",
): AssignmentEnded => ({
  _tag: "AssignmentEnded",
  deviceId: device,
  patientId: patient,
  start: t(0),
  endedBy: nurse,
  at,
  reason,
});
const common = (at = t(60), now = at) => ({
  commandId: commandId("c-1"),
  deviceId: device,
  actor: nurse,
  at,
  now,
});
const assign = (patient = alice, at = t(0), now = at): AssignDevice => ({
  _tag: "AssignDevice",
  ...common(at, now),
  patientId: patient,
});
const end = (patient = alice, at = t(60)): EndAssignment => ({
  _tag: "EndAssignment",
  ...common(at),
  patientId: patient,
  reason: "completed",
});
const reassign = (patient = bob, at = t(60)): ReassignDevice => ({
  _tag: "ReassignDevice",
  ...common(at),
  patientId: patient,
  reason: "completed",
});
const returnDevice = (at = t(60)): ReturnDevice => ({ _tag: "ReturnDevice", ...common(at) });

describe("assign", () => {
  it("puts a free device on a patient", () => {
    given([]).when(assign()).then([assigned()]);
  });
  it("keeps the patient's name and notes", () => {
    given([])
      .when({ ...assign(), patientName: "Alice", notes: "left wrist" })
      .then([{ ...assigned(), patientName: "Alice", notes: "left wrist" }]);
  });
  it("assigns again after the previous assignment ended", () => {
    given([assigned(), ended()])
      .when(assign(bob, t(60)))
      .then([assigned(bob, t(60))]);
  });
  it("rejects a device someone wears, naming who and since when", () => {
    const error = given([assigned()])
      .when(assign(bob, t(5)))
      .thenRejects(DeviceAlreadyAssigned);
    expect(error.current.patientId).toBe(alice);
    expect(error.current.start).toBe(t(0));
  });
});

describe("end", () => {
  it("ends the named patient's assignment", () => {
    given([assigned()]).when(end()).then([ended()]);
  });
  it("rejects when nobody wears the device", () => {
    given([]).when(end()).thenRejects(NoActiveAssignment);
  });
  it("rejects when the device is another patient's", () => {
    const error = given([assigned()]).when(end(bob)).thenRejects(AssignmentBelongsToAnotherPatient);
    expect(error.currentPatientId).toBe(alice);
  });
  it("rejects an end at the assignment's start (an interval lasts at least 1 ms)", () => {
    given([assigned()])
      .when(end(alice, t(0)))
      .thenRejects(EmptyAssignmentInterval);
  });
});

describe("reassign", () => {
  it("ends the current assignment and starts the next in one decision", () => {
    given([assigned()])
      .when(reassign())
      .then([ended(), assigned(bob, t(60))]);
  });
  it("rejects when nobody wears the device", () => {
    given([]).when(reassign()).thenRejects(NoActiveAssignment);
  });
});

describe("return", () => {
  it("ends whoever's assignment with reason device_returned", () => {
    given([assigned()])
      .when(returnDevice())
      .then([ended(alice, t(60), "device_returned")]);
  });
  it("rejects a device nobody wears", () => {
    given([assigned(), ended()])
      .when(returnDevice(t(90)))
      .thenRejects(NoActiveAssignment);
  });
});

describe("time", () => {
  it("accepts a command recorded after the fact (effective time in the past)", () => {
    given([assigned()])
      .when({ ...end(), now: t(600) })
      .then([ended()]);
  });
  it("accepts a command at the same time as the last event", () => {
    given([assigned(), ended()])
      .when(assign(bob, t(60)))
      .then([assigned(bob, t(60))]);
  });
  it("rejects a command dated before the stream's last event", () => {
    const error = given([assigned(), ended()])
      .when(assign(bob, t(59)))
      .thenRejects(EventTimeBeforeLastEvent);
    expect(error.lastEventAt).toBe(t(60));
  });
  it("rejects a command dated beyond the allowed skew into the future", () => {
    const now = t(0);
    given([])
      .when(assign(alice, epochMillis(now + defaultPolicy.maxFutureSkewMs + 1), now))
      .thenRejects(EventTimeInFuture);
    given([])
      .when(assign(alice, epochMillis(now + defaultPolicy.maxFutureSkewMs), now))
      .then([assigned(alice, epochMillis(now + defaultPolicy.maxFutureSkewMs))]);
  });
  it("takes the skew from the policy", () => {
    given([], { maxFutureSkewMs: 0 })
      .when(assign(alice, t(1), t(0)))
      .thenRejects(EventTimeInFuture);
  });
});
