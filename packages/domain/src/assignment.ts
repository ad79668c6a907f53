import { Schema } from "effect";
import { Actor, DeviceId, EpochMillis, Notes, PatientId, PatientName } from "./ids.js";
import { ImportProvenance } from "./import/provenance.js";

export const EndReason = Schema.Literal("completed", "device_returned");
export type EndReason = typeof EndReason.Type;

/** A device was put on a patient from `at` on. */
export const DeviceAssigned = Schema.TaggedStruct("DeviceAssigned", {
  deviceId: DeviceId,
  patientId: PatientId,
  patientName: Schema.optionalWith(PatientName, { exact: true }),
  assignedBy: Actor,
  at: EpochMillis,
  notes: Schema.optionalWith(Notes, { exact: true }),
  /** Set on events imported from the historical table (`medusa import`). */
  provenance: Schema.optionalWith(ImportProvenance, { exact: true }),
});
export type DeviceAssigned = typeof DeviceAssigned.Type;

/**
 * A device's assignment ended at `at` (exclusive end of the interval).
 * `start` names the assignment that ended, so the event reads on its own: in
 * the audit trail, in a stream consumer, and as the read model's key. Stored
 * events spell it `since`, as they always have.
 */
export const AssignmentEnded = Schema.TaggedStruct("AssignmentEnded", {
  deviceId: DeviceId,
  patientId: PatientId,
  start: Schema.propertySignature(EpochMillis).pipe(Schema.fromKey("since")),
  endedBy: Actor,
  at: EpochMillis,
  reason: EndReason,
  /** Set on events imported from the historical table (`medusa import`). */
  provenance: Schema.optionalWith(ImportProvenance, { exact: true }),
});
export type AssignmentEnded = typeof AssignmentEnded.Type;

export const AssignmentEvent = Schema.Union(DeviceAssigned, AssignmentEnded);
export type AssignmentEvent = typeof AssignmentEvent.Type;

/** The assignment a device is in right now. */
export const CurrentAssignment = Schema.Struct({
  deviceId: DeviceId,
  patientId: PatientId,
  patientName: Schema.optionalWith(PatientName, { exact: true }),
  assignedBy: Actor,
  start: EpochMillis,
  notes: Schema.optionalWith(Notes, { exact: true }),
});
export type CurrentAssignment = typeof CurrentAssignment.Type;

/** Nobody wears the device. `lastEventAt` is null for a device never assigned. */
export interface Unassigned {
  readonly _tag: "Unassigned";
  readonly lastEventAt: EpochMillis | null;
}

export interface Assigned {
  readonly _tag: "Assigned";
  readonly current: CurrentAssignment;
  readonly lastEventAt: EpochMillis;
}

/** The write model of one device stream. */
export type AssignmentState = Unassigned | Assigned;

export const initialState = (): AssignmentState => ({ _tag: "Unassigned", lastEventAt: null });

/**
 * Applies one accepted event. Total: an event that does not fit the state (it
 * can only come from a corrupted log) is folded in the only sensible way
 * rather than throwing, since the log is the source of truth.
 */
export const evolve = (state: AssignmentState, event: AssignmentEvent): AssignmentState => {
  switch (event._tag) {
    case "DeviceAssigned":
      return {
        _tag: "Assigned",
        current: currentFrom(event),
        lastEventAt: event.at,
      };
    case "AssignmentEnded":
      return { _tag: "Unassigned", lastEventAt: event.at };
    default:
      return absurd(event, state);
  }
};

/** Folds a log (or any chunk of it) into state. */
export const replay = (
  events: Iterable<AssignmentEvent>,
  from: AssignmentState = initialState(),
): AssignmentState => {
  let state = from;
  for (const event of events) state = evolve(state, event);
  return state;
};

const currentFrom = (e: DeviceAssigned): CurrentAssignment => ({
  deviceId: e.deviceId,
  patientId: e.patientId,
  assignedBy: e.assignedBy,
  start: e.at,
  ...(e.patientName !== undefined ? { patientName: e.patientName } : {}),
  ...(e.notes !== undefined ? { notes: e.notes } : {}),
});

const absurd = (_: never, state: AssignmentState): AssignmentState => state;
