import { Schema } from "effect";
import { EndReason } from "./end-reason.js";
import { Actor, DeviceId, EpochMillis, Notes, PatientId, PatientName } from "./ids.js";

/**
 * Why a record is corrected, as a code a report can count; the note says the
 * rest in words.
 */
export const CorrectionReason = Schema.Literal(
  /** The device was on another patient than the one recorded. */
  "wrong_patient",
  /** The patient wore another device than the one recorded. */
  "wrong_device",
  /** A start or end was recorded at the wrong time. */
  "wrong_time",
  /** The device was never put on the patient. */
  "not_worn",
  /** The same assignment was recorded twice. */
  "duplicate",
  "other",
);
export type CorrectionReason = typeof CorrectionReason.Type;

/** The free text of a correction: required, so that every correction says why in words. */
export const CorrectionNote = Schema.String.pipe(
  Schema.filter((s) => s.trim().length > 0, { message: () => "a correction says why, in words" }),
  Schema.maxLength(2000, { message: () => "a correction's note is at most 2000 characters" }),
);

/** Who corrected an assignment, when it was recorded, and why. */
export const CorrectionStamp = Schema.Struct({
  by: Actor,
  /** When the correction was recorded (its commit's time), not when anything happened on the ward. */
  recordedAt: EpochMillis,
  reason: CorrectionReason,
  note: CorrectionNote,
});
export type CorrectionStamp = typeof CorrectionStamp.Type;

/**
 * An assignment as it stood when a correction was made: everything its row
 * in the mapping table holds. Its `start` names it (the device's live
 * assignments never share a start).
 */
export const AssignmentSnapshot = Schema.Struct({
  patientId: PatientId,
  patientName: Schema.optionalWith(PatientName, { exact: true }),
  assignedBy: Actor,
  start: EpochMillis,
  end: Schema.NullOr(EpochMillis),
  endedBy: Schema.optionalWith(Actor, { exact: true }),
  endReason: Schema.optionalWith(EndReason, { exact: true }),
  notes: Schema.optionalWith(Notes, { exact: true }),
});
export type AssignmentSnapshot = typeof AssignmentSnapshot.Type;

/**
 * What every correction event carries: the assignment corrected, as it stood
 * (so the event reads on its own in the audit trail, and the read model can
 * rewrite the row), who corrected it, when that was recorded, and why.
 */
const CorrectionFields = {
  deviceId: DeviceId,
  assignment: AssignmentSnapshot,
  correctedBy: Actor,
  recordedAt: EpochMillis,
  reason: CorrectionReason,
  note: CorrectionNote,
};

/**
 * The assignment was entered in error: it never happened. Its samples belong
 * to whichever assignment truly covered them, or to nobody.
 */
export const AssignmentRetracted = Schema.TaggedStruct("AssignmentRetracted", {
  ...CorrectionFields,
});
export type AssignmentRetracted = typeof AssignmentRetracted.Type;

/** The device was on another patient than recorded, for the same period. */
export const AssignmentPatientCorrected = Schema.TaggedStruct("AssignmentPatientCorrected", {
  ...CorrectionFields,
  patientId: PatientId,
  /** The right patient's name; absent when not given (the wrong patient's is not kept). */
  patientName: Schema.optionalWith(PatientName, { exact: true }),
});
export type AssignmentPatientCorrected = typeof AssignmentPatientCorrected.Type;

/** The assignment's period was `[start, end)`, not what was recorded. */
export const AssignmentPeriodAmended = Schema.TaggedStruct("AssignmentPeriodAmended", {
  ...CorrectionFields,
  start: EpochMillis,
  /** Null only for an assignment that lasts (an end is never amended into or out of being). */
  end: Schema.NullOr(EpochMillis),
});
export type AssignmentPeriodAmended = typeof AssignmentPeriodAmended.Type;

export const CorrectionEvent = Schema.Union(
  AssignmentRetracted,
  AssignmentPatientCorrected,
  AssignmentPeriodAmended,
);
export type CorrectionEvent = typeof CorrectionEvent.Type;

/** The stamp a correction event leaves on the assignment it corrects. */
export const stampOf = (e: CorrectionEvent): CorrectionStamp => ({
  by: e.correctedBy,
  recordedAt: e.recordedAt,
  reason: e.reason,
  note: e.note,
});
