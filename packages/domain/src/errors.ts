import { Schema } from "effect";
import { CurrentAssignment } from "./assignment.js";
import type {
  AssignmentAlreadyRetracted,
  AssignmentNotEnded,
  AssignmentNotFound,
  AssignmentsWouldOverlap,
  CorrectionChangesNothing,
} from "./correction-errors.js";
import { DeviceId, EpochMillis, PatientId } from "./ids.js";

/** Assigning a device that someone already wears. Carries who wears it. */
export class DeviceAlreadyAssigned extends Schema.TaggedError<DeviceAlreadyAssigned>()(
  "DeviceAlreadyAssigned",
  { deviceId: DeviceId, current: CurrentAssignment },
) {
  override get message(): string {
    return `device ${this.deviceId} is already assigned (since ${this.current.start})`;
  }
}

/** Ending or handing over a device that nobody wears. */
export class NoActiveAssignment extends Schema.TaggedError<NoActiveAssignment>()(
  "NoActiveAssignment",
  { deviceId: DeviceId },
) {
  override get message(): string {
    return `device ${this.deviceId} has no active assignment`;
  }
}

/** Ending an assignment on behalf of a patient who does not wear the device. */
export class AssignmentBelongsToAnotherPatient extends Schema.TaggedError<AssignmentBelongsToAnotherPatient>()(
  "AssignmentBelongsToAnotherPatient",
  { deviceId: DeviceId, patientId: PatientId, currentPatientId: PatientId },
) {
  override get message(): string {
    return `device ${this.deviceId} is assigned to another patient`;
  }
}

/**
 * An ordinary command dated before the latest effective time of the device's
 * assignments (the newest one's start, or its end). The record only moves
 * forward in effective time; corrections are the one way to change the past,
 * and the log is never silently reordered.
 */
export class EventTimeBeforeLastEvent extends Schema.TaggedError<EventTimeBeforeLastEvent>()(
  "EventTimeBeforeLastEvent",
  { deviceId: DeviceId, at: EpochMillis, lastEventAt: EpochMillis },
) {
  override get message(): string {
    return `time ${this.at} is before device ${this.deviceId}'s last event at ${this.lastEventAt}`;
  }
}

/** A command dated further in the future than the allowed clock skew. */
export class EventTimeInFuture extends Schema.TaggedError<EventTimeInFuture>()(
  "EventTimeInFuture",
  { deviceId: DeviceId, at: EpochMillis, now: EpochMillis, maxSkewMs: Schema.Number },
) {
  override get message(): string {
    return `time ${this.at} is more than ${this.maxSkewMs} ms after now (${this.now})`;
  }
}

/**
 * An assignment must last at least one millisecond: intervals are `[start,
 * end)`, and the read model is keyed by (device, start), so two assignments of
 * one device can never share a start time.
 */
export class EmptyAssignmentInterval extends Schema.TaggedError<EmptyAssignmentInterval>()(
  "EmptyAssignmentInterval",
  { deviceId: DeviceId, start: EpochMillis, at: EpochMillis },
) {
  override get message(): string {
    return `the assignment of device ${this.deviceId} started at ${this.start}; it cannot end at ${this.at}`;
  }
}

/** Another command was appended to the stream first (optimistic concurrency). */
export class VersionConflict extends Schema.TaggedError<VersionConflict>()("VersionConflict", {
  deviceId: DeviceId,
  expectedVersion: Schema.Number,
}) {
  override get message(): string {
    return `device ${this.deviceId} changed concurrently (expected version ${this.expectedVersion}); retry on fresh state`;
  }
}

/** Every business-rule rejection `decide` can return. */
export type AssignmentRejection =
  | DeviceAlreadyAssigned
  | NoActiveAssignment
  | AssignmentBelongsToAnotherPatient
  | EventTimeBeforeLastEvent
  | EventTimeInFuture
  | EmptyAssignmentInterval
  // Corrections of the record.
  | AssignmentNotFound
  | AssignmentAlreadyRetracted
  | AssignmentsWouldOverlap
  | CorrectionChangesNothing
  | AssignmentNotEnded;

/** A time range that holds no time: `end` is not after `start`. */
export class EmptyTimeRange extends Schema.TaggedError<EmptyTimeRange>()("EmptyTimeRange", {
  start: Schema.Number,
  end: Schema.Number,
}) {
  override get message(): string {
    return "end_time must be after start_time";
  }
}
