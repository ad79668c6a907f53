import { Schema } from "effect";
import { DeviceId, EpochMillis, PatientId } from "./ids.js";

/** A correction names an assignment the device never had (no live assignment starts then). */
export class AssignmentNotFound extends Schema.TaggedError<AssignmentNotFound>()(
  "AssignmentNotFound",
  { deviceId: DeviceId, start: EpochMillis },
) {
  override get message(): string {
    return `device ${this.deviceId} has no assignment that starts at ${this.start}`;
  }
}

/** A correction names an assignment already retracted: it is no longer in the record to correct. */
export class AssignmentAlreadyRetracted extends Schema.TaggedError<AssignmentAlreadyRetracted>()(
  "AssignmentAlreadyRetracted",
  { deviceId: DeviceId, start: EpochMillis, retractedAt: EpochMillis },
) {
  override get message(): string {
    return `the assignment of device ${this.deviceId} that started at ${this.start} was retracted at ${this.retractedAt}`;
  }
}

/** An assignment as an error names it: whose, and its period. */
export const NamedAssignment = Schema.Struct({
  patientId: PatientId,
  start: EpochMillis,
  end: Schema.NullOr(EpochMillis),
});
export type NamedAssignment = typeof NamedAssignment.Type;

/**
 * A correction would make two of a device's assignments overlap (invariant
 * 2). Names the assignment it would collide with, as it stands.
 */
export class AssignmentsWouldOverlap extends Schema.TaggedError<AssignmentsWouldOverlap>()(
  "AssignmentsWouldOverlap",
  {
    deviceId: DeviceId,
    /** The corrected assignment's period as the correction asks for it. */
    start: EpochMillis,
    end: Schema.NullOr(EpochMillis),
    conflicting: NamedAssignment,
  },
) {
  override get message(): string {
    return `device ${this.deviceId} would be on two patients at once: the assignment from ${this.conflicting.start} to ${this.conflicting.end ?? "now"} overlaps ${this.start}–${this.end ?? "now"}`;
  }
}

/** A correction that changes nothing: the record already says that. */
export class CorrectionChangesNothing extends Schema.TaggedError<CorrectionChangesNothing>()(
  "CorrectionChangesNothing",
  { deviceId: DeviceId, start: EpochMillis },
) {
  override get message(): string {
    return `the assignment of device ${this.deviceId} that started at ${this.start} already says that`;
  }
}

/**
 * Amending the end of an assignment that has not ended: ending it is an
 * ordinary command (end, return, reassign), with its reason.
 */
export class AssignmentNotEnded extends Schema.TaggedError<AssignmentNotEnded>()(
  "AssignmentNotEnded",
  { deviceId: DeviceId, start: EpochMillis },
) {
  override get message(): string {
    return `the assignment of device ${this.deviceId} that started at ${this.start} has not ended; end it instead`;
  }
}
