import { Either } from "effect";
import { describe, expect, it } from "vitest";
import type { AssignmentEnded, AssignmentEvent, DeviceAssigned } from "./assignment.js";
import { replay } from "./assignment.js";
import type {
  AmendAssignmentPeriod,
  CorrectAssignmentPatient,
  RetractAssignment,
} from "./correction-commands.js";
import {
  AssignmentAlreadyRetracted,
  AssignmentNotEnded,
  AssignmentNotFound,
  AssignmentsWouldOverlap,
  CorrectionChangesNothing,
} from "./correction-errors.js";
import type {
  AssignmentPatientCorrected,
  AssignmentPeriodAmended,
  AssignmentRetracted,
  AssignmentSnapshot,
} from "./corrections.js";
import { decide, defaultPolicy } from "./decide.js";
import {
  DeviceAlreadyAssigned,
  EmptyAssignmentInterval,
  EventTimeBeforeLastEvent,
  EventTimeInFuture,
} from "./errors.js";
import { actor, commandId, deviceId, type EpochMillis, epochMillis, patientId } from "./ids.js";
import { intervalsOf } from "./projections.js";
import { changedFrom } from "./reattribution.js";
import { given } from "./testing/given.js";

const device = deviceId("medusa-pi-01");
const alice = patientId("P-1001");
const bob = patientId("P-1002");
const nurse = actor("nurse@clinic.example");
const charge = actor("charge.nurse@clinic.example");
const t = (minutes: number) => epochMillis(1_731_622_400_000 + minutes * 60_000);

const assigned = (patient = alice, at = t(0)): DeviceAssigned => ({
  _tag: "DeviceAssigned",
  deviceId: device,
  patientId: patient,
  assignedBy: nurse,
  at,
});
const ended = (patient = alice, start = t(0), at = t(60)): AssignmentEnded => ({
  _tag: "AssignmentEnded",
  deviceId: device,
  patientId: patient,
  start,
  endedBy: nurse,
  at,
  reason: "completed",
});
/** Alice 0–60, then Bob from 60 on: a hand-over at minute 60. */
const handover: ReadonlyArray<AssignmentEvent> = [assigned(), ended(), assigned(bob, t(60))];

const snapshot = (patient = alice, start = t(0), end: EpochMillis | null = t(60)) =>
  ({
    patientId: patient,
    assignedBy: nurse,
    start,
    end,
    ...(end !== null ? { endedBy: nurse, endReason: "completed" as const } : {}),
  }) satisfies AssignmentSnapshot;

const correction = (start: EpochMillis, now = t(130)) => ({
  commandId: commandId("fix-1"),
  deviceId: device,
  actor: charge,
  now,
  start,
  note: "noticed on the ward round",
});
const retract = (start = t(0), now = t(130)): RetractAssignment => ({
  _tag: "RetractAssignment",
  ...correction(start, now),
  reason: "wrong_patient",
});
const correctPatient = (start = t(0), patient = bob): CorrectAssignmentPatient => ({
  _tag: "CorrectAssignmentPatient",
  ...correction(start),
  reason: "wrong_patient",
  patientId: patient,
});
const amend = (
  start: EpochMillis,
  period: { newStart?: EpochMillis; newEnd?: EpochMillis; moveAdjoining?: boolean },
  now = t(130),
): AmendAssignmentPeriod => ({
  _tag: "AmendAssignmentPeriod",
  ...correction(start, now),
  reason: "wrong_time",
  ...period,
});
const stamp = {
  deviceId: device,
  correctedBy: charge,
  recordedAt: t(130),
  note: "noticed on the ward round",
};

describe("retract: entered in error", () => {
  it("takes an assignment out of the record, naming it as it stood", () => {
    given(handover)
      .when(retract())
      .then([
        {
          _tag: "AssignmentRetracted",
          ...stamp,
          assignment: snapshot(),
          reason: "wrong_patient",
        } satisfies AssignmentRetracted,
      ]);
  });

  it("of the current assignment, frees the device; its samples belong to nobody", () => {
    const [e] = given([assigned()])
      .when(retract())
      .then([
        {
          _tag: "AssignmentRetracted",
          ...stamp,
          assignment: snapshot(alice, t(0), null),
          reason: "wrong_patient",
        },
      ]);
    const state = replay([assigned(), e!]);
    expect([state._tag, state.lastEventAt, intervalsOf([assigned(), e!])]).toEqual([
      "Unassigned",
      null,
      [],
    ]);
  });

  it("then the right patient can be assigned from the same time (ordinary commands see the corrected record)", () => {
    const [retracted] = given([assigned()])
      .when(retract())
      .then([
        {
          _tag: "AssignmentRetracted",
          ...stamp,
          assignment: snapshot(alice, t(0), null),
          reason: "wrong_patient",
        },
      ]);
    given([assigned(), retracted!])
      .when({
        _tag: "AssignDevice",
        commandId: commandId("c-2"),
        deviceId: device,
        actor: nurse,
        patientId: bob,
        at: t(0),
        now: t(131),
      })
      .then([assigned(bob, t(0))]);
  });

  it("is refused for an assignment already retracted, or none", () => {
    const [retracted] = given(handover)
      .when(retract())
      .then([
        {
          _tag: "AssignmentRetracted",
          ...stamp,
          assignment: snapshot(),
          reason: "wrong_patient",
        },
      ]);
    const again = given([...handover, retracted!])
      .when(retract())
      .thenRejects(AssignmentAlreadyRetracted);
    expect([again.start, again.retractedAt]).toEqual([t(0), t(130)]);
    given(handover)
      .when(retract(t(30)))
      .thenRejects(AssignmentNotFound);
  });
});

describe("correct the patient", () => {
  it("gives the period to the right patient; the wrong patient's name is not kept", () => {
    given([{ ...assigned(), patientName: "Alice" }, ended()])
      .when({ ...correctPatient(), patientName: "Bob" })
      .then([
        {
          _tag: "AssignmentPatientCorrected",
          ...stamp,
          assignment: { ...snapshot(), patientName: "Alice" },
          reason: "wrong_patient",
          patientId: bob,
          patientName: "Bob",
        } satisfies AssignmentPatientCorrected,
      ]);
  });

  it("of the current assignment, changes who wears the device now", () => {
    const [e] = given([assigned()])
      .when(correctPatient())
      .then([
        {
          _tag: "AssignmentPatientCorrected",
          ...stamp,
          assignment: snapshot(alice, t(0), null),
          reason: "wrong_patient",
          patientId: bob,
        },
      ]);
    const state = replay([assigned(), e!]);
    expect(state._tag === "Assigned" && state.current.patientId).toBe(bob);
    // …and an assign that names the device is told who wears it now.
    const refused = given([assigned(), e!])
      .when({
        _tag: "AssignDevice",
        commandId: commandId("c-3"),
        deviceId: device,
        actor: nurse,
        patientId: alice,
        at: t(140),
        now: t(140),
      })
      .thenRejects(DeviceAlreadyAssigned);
    expect(refused.current.patientId).toBe(bob);
  });

  it("that changes nothing is refused", () => {
    given(handover)
      .when(correctPatient(t(0), alice))
      .thenRejects(CorrectionChangesNothing);
  });
});

describe("amend the period", () => {
  it("moves a start; the record's latest time follows", () => {
    given([assigned()])
      .when(amend(t(0), { newStart: t(-30) }))
      .then([
        {
          _tag: "AssignmentPeriodAmended",
          ...stamp,
          assignment: snapshot(alice, t(0), null),
          reason: "wrong_time",
          start: t(-30),
          end: null,
        } satisfies AssignmentPeriodAmended,
      ]);
  });

  it("moves an end back: the device came back a day before anyone ended the assignment", () => {
    const log = [assigned(), ended(alice, t(0), t(24 * 60))];
    const [e] = given(log)
      .when(amend(t(0), { newEnd: t(60) }, t(24 * 60 + 5)))
      .then([
        {
          _tag: "AssignmentPeriodAmended",
          ...stamp,
          recordedAt: t(24 * 60 + 5),
          assignment: snapshot(alice, t(0), t(24 * 60)),
          reason: "wrong_time",
          start: t(0),
          end: t(60),
        },
      ]);
    expect(replay([...log, e!]).lastEventAt).toBe(t(60));
    expect(changedFrom([e!])).toBe(t(60));
  });

  it("a hand-over recorded an hour late: both assignments move in one commit", () => {
    const events = given(handover)
      .when(amend(t(60), { newStart: t(0 + 30), moveAdjoining: true }))
      .then([
        {
          _tag: "AssignmentPeriodAmended",
          ...stamp,
          assignment: snapshot(bob, t(60), null),
          reason: "wrong_time",
          start: t(30),
          end: null,
        },
        {
          _tag: "AssignmentPeriodAmended",
          ...stamp,
          assignment: snapshot(),
          reason: "wrong_time",
          start: t(0),
          end: t(30),
        },
      ]);
    expect(intervalsOf([...handover, ...events]).map((i) => [i.patientId, i.start, i.end])).toEqual(
      [
        [alice, t(0), t(30)],
        [bob, t(30), null],
      ],
    );
    // Samples from minute 30 on change hands.
    expect(changedFrom(events)).toBe(t(30));
  });

  it("without moveAdjoining, a start moved into the previous assignment is refused, naming it", () => {
    const error = given(handover)
      .when(amend(t(60), { newStart: t(30) }))
      .thenRejects(AssignmentsWouldOverlap);
    expect(error.conflicting).toEqual({ patientId: alice, start: t(0), end: t(60) });
    expect([error.start, error.end]).toEqual([t(30), null]);
  });

  it("an end moved past the next assignment's start is refused, naming it; a start past the next one's end too", () => {
    const three = [...handover, ended(bob, t(60), t(120)), assigned(alice, t(120))];
    given(three)
      .when(amend(t(0), { newEnd: t(61) }))
      .thenRejects(AssignmentsWouldOverlap);
    // Moving the hand-over to after Bob's end would leave Bob nothing.
    given(three)
      .when(amend(t(0), { newEnd: t(120), moveAdjoining: true }))
      .thenRejects(EmptyAssignmentInterval);
  });

  it("an empty period, an end amended on an assignment that lasts, a time in the future, or nothing changed: refused", () => {
    given(handover)
      .when(amend(t(0), { newStart: t(60) }))
      .thenRejects(EmptyAssignmentInterval);
    given(handover)
      .when(amend(t(60), { newEnd: t(90) }))
      .thenRejects(AssignmentNotEnded);
    given(handover)
      .when(amend(t(60), { newStart: epochMillis(t(130) + defaultPolicy.maxFutureSkewMs + 1) }))
      .thenRejects(EventTimeInFuture);
    given(handover)
      .when(amend(t(0), { newStart: t(0), newEnd: t(60) }))
      .thenRejects(CorrectionChangesNothing);
    given(handover)
      .when(amend(t(5), { newStart: t(1) }))
      .thenRejects(AssignmentNotFound);
  });
});

describe("corrections and ordinary commands", () => {
  it("ordinary commands still may not be dated before the record's latest time; a correction can change that time", () => {
    given(handover)
      .when({
        _tag: "ReturnDevice",
        commandId: commandId("r"),
        deviceId: device,
        actor: nurse,
        at: t(59),
        now: t(200),
      })
      .thenRejects(EventTimeBeforeLastEvent);
    // Bob's assignment was entered in error: the device has been free since minute 60.
    const decision = decide(retract(t(60)), replay(handover));
    const log = [...handover, ...Either.getOrThrow(decision)];
    expect(replay(log).lastEventAt).toBe(t(60));
  });
});
