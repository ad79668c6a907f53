import { Schema } from "effect";
import { CorrectionNote, CorrectionReason } from "./corrections.js";
import { Actor, CommandId, DeviceId, EpochMillis, PatientId, PatientName } from "./ids.js";

/**
 * A correction names the assignment by its start as it stands (`since` on the
 * wire, the mapping table's `assignment_timestamp`), says why (a reason code
 * and a note), and is recorded `now`. It has no effective time of its own:
 * it changes the past, which is what ordinary commands may not do.
 */
const CorrectionCommandFields = {
  commandId: CommandId,
  deviceId: DeviceId,
  actor: Actor,
  now: EpochMillis,
  /** The start of the assignment corrected, as it stands. */
  start: EpochMillis,
  reason: CorrectionReason,
  note: CorrectionNote,
};

/** The assignment was entered in error: take it out of the record (it stays in the log, marked). */
export const RetractAssignment = Schema.TaggedStruct("RetractAssignment", {
  ...CorrectionCommandFields,
});
export type RetractAssignment = typeof RetractAssignment.Type;

/** The device was on another patient for that period. */
export const CorrectAssignmentPatient = Schema.TaggedStruct("CorrectAssignmentPatient", {
  ...CorrectionCommandFields,
  patientId: PatientId,
  patientName: Schema.optionalWith(PatientName, { exact: true }),
});
export type CorrectAssignmentPatient = typeof CorrectAssignmentPatient.Type;

/**
 * The assignment began at `newStart` and/or ended at `newEnd`. With
 * `moveAdjoining`, the assignment that adjoins the amended boundary (a
 * hand-over: the previous one ended where this one started, or the next one
 * started where this one ended) moves with it, in the same commit.
 */
export const AmendAssignmentPeriod = Schema.TaggedStruct("AmendAssignmentPeriod", {
  ...CorrectionCommandFields,
  newStart: Schema.optionalWith(EpochMillis, { exact: true }),
  newEnd: Schema.optionalWith(EpochMillis, { exact: true }),
  moveAdjoining: Schema.optionalWith(Schema.Boolean, { exact: true }),
});
export type AmendAssignmentPeriod = typeof AmendAssignmentPeriod.Type;

export const CorrectionCommand = Schema.Union(
  RetractAssignment,
  CorrectAssignmentPatient,
  AmendAssignmentPeriod,
);
export type CorrectionCommand = typeof CorrectionCommand.Type;
