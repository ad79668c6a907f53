import { Schema } from "effect";
import { EndReason } from "./assignment.js";
import {
  AmendAssignmentPeriod,
  CorrectAssignmentPatient,
  type CorrectionCommand,
  RetractAssignment,
} from "./correction-commands.js";
import { Actor, CommandId, DeviceId, EpochMillis, Notes, PatientId, PatientName } from "./ids.js";

/**
 * Every command carries its id (retries are no-ops), the acting clinician, its
 * effective time `at` (when it happened in the clinic; may be earlier than
 * `now` when recorded after the fact) and `now` (when it is recorded). The
 * decider has no clock: both times arrive here.
 */
const CommandFields = {
  commandId: CommandId,
  deviceId: DeviceId,
  actor: Actor,
  at: EpochMillis,
  now: EpochMillis,
};

/** Put a free device on a patient. */
export const AssignDevice = Schema.TaggedStruct("AssignDevice", {
  ...CommandFields,
  patientId: PatientId,
  patientName: Schema.optionalWith(PatientName, { exact: true }),
  notes: Schema.optionalWith(Notes, { exact: true }),
});
export type AssignDevice = typeof AssignDevice.Type;

/** End the named patient's assignment of a device. */
export const EndAssignment = Schema.TaggedStruct("EndAssignment", {
  ...CommandFields,
  patientId: PatientId,
  reason: EndReason,
});
export type EndAssignment = typeof EndAssignment.Type;

/** Hand a device to the next patient: end the current assignment and start the next, in one commit. */
export const ReassignDevice = Schema.TaggedStruct("ReassignDevice", {
  ...CommandFields,
  patientId: PatientId,
  patientName: Schema.optionalWith(PatientName, { exact: true }),
  notes: Schema.optionalWith(Notes, { exact: true }),
  /** Why the previous assignment ended. */
  reason: EndReason,
});
export type ReassignDevice = typeof ReassignDevice.Type;

/** The device came back to the clinic: end whoever's assignment it is in. */
export const ReturnDevice = Schema.TaggedStruct("ReturnDevice", { ...CommandFields });
export type ReturnDevice = typeof ReturnDevice.Type;

/** The commands that move a device's record forward in time: each has an effective time `at`. */
export const OrdinaryCommand = Schema.Union(
  AssignDevice,
  EndAssignment,
  ReassignDevice,
  ReturnDevice,
);
export type OrdinaryCommand = typeof OrdinaryCommand.Type;

/** Every command on a device's stream: the ordinary ones, and the corrections of its record. */
export const AssignmentCommand = Schema.Union(
  AssignDevice,
  EndAssignment,
  ReassignDevice,
  ReturnDevice,
  RetractAssignment,
  CorrectAssignmentPatient,
  AmendAssignmentPeriod,
);
export type AssignmentCommand = typeof AssignmentCommand.Type;

/** Whether a command corrects the record (and so has no effective time of its own). */
export const isCorrection = (command: AssignmentCommand): command is CorrectionCommand =>
  command._tag === "RetractAssignment" ||
  command._tag === "CorrectAssignmentPatient" ||
  command._tag === "AmendAssignmentPeriod";
