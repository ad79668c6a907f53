import type {
  acknowledgeAlert,
  changeConfiguration,
  createDeviceJob,
  currentPatient,
  DeviceShadowRejected,
  deviceAssignments,
  deviceConfiguration,
  deviceJobs,
  deviceRecordAsOf,
  endLiveMode,
  executeRequest,
  fleetDevice,
  fleetDevices,
  openAlerts,
  patientActivity,
  patientActivityDaily,
  patientDevices,
  patientTimeline,
  SegmentsNotWritten,
  startLiveMode,
  ThingCertificatesUnavailable,
} from "@medusa/domain";
import { type Effect, Match } from "effect";
import type { Problem } from "./problems.js";
import { problem } from "./problems.js";

/**
 * Every typed failure of the use cases the API runs. Derived from their
 * types, so a new error in a use case is a new case here, and `problemOf`
 * does not compile until it has a status.
 */
export type ApiFailure =
  | Effect.Effect.Error<ReturnType<typeof executeRequest>>
  | Effect.Effect.Error<ReturnType<typeof currentPatient>>
  | Effect.Effect.Error<ReturnType<typeof deviceAssignments>>
  | Effect.Effect.Error<ReturnType<typeof deviceRecordAsOf>>
  | Effect.Effect.Error<ReturnType<typeof patientDevices>>
  | Effect.Effect.Error<ReturnType<typeof patientTimeline>>
  | Effect.Effect.Error<ReturnType<typeof deviceConfiguration>>
  | Effect.Effect.Error<ReturnType<typeof changeConfiguration>>
  | Effect.Effect.Error<ReturnType<typeof startLiveMode>>
  | Effect.Effect.Error<ReturnType<typeof endLiveMode>>
  | Effect.Effect.Error<ReturnType<typeof fleetDevices>>
  | Effect.Effect.Error<ReturnType<typeof fleetDevice>>
  | Effect.Effect.Error<ReturnType<typeof openAlerts>>
  | Effect.Effect.Error<ReturnType<typeof acknowledgeAlert>>
  | Effect.Effect.Error<ReturnType<typeof patientActivity>>
  | Effect.Effect.Error<ReturnType<typeof patientActivityDaily>>
  | Effect.Effect.Error<ReturnType<typeof createDeviceJob>>
  | Effect.Effect.Error<ReturnType<typeof deviceJobs>>
  // Storage failures of the sensor store's writes, which no route meets yet.
  | SegmentsNotWritten
  // The certificate registry (certificate rotation's retirement), which no route meets yet.
  | ThingCertificatesUnavailable;

const storageUnavailable = () =>
  problem(503, "storage-unavailable", "Storage unavailable", { detail: "try again later" });

type Cases = {
  readonly [Tag in ApiFailure["_tag"]]: (error: Extract<ApiFailure, { _tag: Tag }>) => Problem;
};

/**
 * The shadow service's refusal (AWS's code and message): a version conflict
 * is a concurrent change, 413 the 8 KB document limit, 429 its request rate;
 * any other refusal is the request's fault.
 */
const shadowRefused = (e: DeviceShadowRejected) => {
  const extra = { detail: e.message, device_id: e.deviceId, shadow_code: e.code };
  switch (e.code) {
    case 409:
      return problem(
        409,
        "concurrent-change",
        "The device's shadow changed concurrently; retry",
        extra,
      );
    case 413:
      return problem(413, "shadow-too-large", "The device's shadow would exceed 8 KB", extra);
    case 429:
      return problem(503, "shadow-busy", "The device's shadow is busy; retry", extra);
    default:
      return problem(422, "shadow-refused", "The device's shadow refused the change", extra);
  }
};

/** Each typed failure as a stable status and problem type. */
const cases = {
  DeviceAlreadyAssigned: (e) =>
    problem(409, "device-already-assigned", "Device already assigned", {
      detail: e.message,
      device_id: e.deviceId,
      current_patient_id: e.current.patientId,
      assigned_since: e.current.start,
    }),
  NoActiveAssignment: (e) =>
    problem(404, "no-active-assignment", "No active assignment", {
      detail: e.message,
      device_id: e.deviceId,
    }),
  // Never says who the other patient is.
  AssignmentBelongsToAnotherPatient: (e) =>
    problem(409, "assignment-belongs-to-another-patient", "Assignment belongs to another patient", {
      detail: e.message,
      device_id: e.deviceId,
    }),
  EventTimeBeforeLastEvent: (e) =>
    problem(422, "time-before-last-event", "Time is before the device's last event", {
      detail: e.message,
      last_event_at: e.lastEventAt,
    }),
  EventTimeInFuture: (e) =>
    problem(422, "time-in-future", "Time is in the future", {
      detail: e.message,
      max_skew_ms: e.maxSkewMs,
    }),
  EmptyAssignmentInterval: (e) =>
    problem(422, "empty-assignment", "An assignment must last at least 1 ms", {
      detail: e.message,
    }),
  VersionConflict: (e) =>
    problem(409, "concurrent-change", "The device changed concurrently; retry", {
      detail: e.message,
    }),
  InvalidCursor: () =>
    problem(400, "invalid-cursor", "Invalid cursor", {
      detail: "cursor is not one this API returned",
    }),
  IdempotencyKeyReused: (e) =>
    problem(422, "idempotency-key-reused", "Idempotency-Key reused with another request", {
      detail: e.message,
    }),
  // Corrections of the record.
  AssignmentNotFound: (e) =>
    problem(404, "assignment-not-found", "No such assignment", {
      detail: e.message,
      device_id: e.deviceId,
      assignment_timestamp: e.start,
    }),
  AssignmentAlreadyRetracted: (e) =>
    problem(409, "assignment-retracted", "The assignment was retracted", {
      detail: e.message,
      device_id: e.deviceId,
      assignment_timestamp: e.start,
      retracted_at: e.retractedAt,
    }),
  // Names the assignment it would collide with, as the audit trail shows it.
  AssignmentsWouldOverlap: (e) =>
    problem(409, "assignments-would-overlap", "The correction would make assignments overlap", {
      detail: e.message,
      device_id: e.deviceId,
      conflicting: {
        patient_id: e.conflicting.patientId,
        assignment_timestamp: e.conflicting.start,
        assignment_end: e.conflicting.end,
      },
    }),
  CorrectionChangesNothing: (e) =>
    problem(422, "correction-changes-nothing", "The record already says that", {
      detail: e.message,
    }),
  AssignmentNotEnded: (e) =>
    problem(409, "assignment-not-ended", "The assignment has not ended", {
      detail: e.message,
      device_id: e.deviceId,
    }),
  AlertNotFound: (e) =>
    problem(404, "alert-not-found", "No such alert", { detail: e.message, alert_id: e.alertId }),
  EmptyTimeRange: (e) => problem(400, "validation-error", "Invalid request", { detail: e.message }),
  DeviceShadowNotFound: (e) =>
    problem(404, "device-shadow-not-found", "The device has no shadow yet", {
      detail: e.message,
      device_id: e.deviceId,
    }),
  DeviceShadowRejected: shadowRefused,
  DeviceShadowUnavailable: () =>
    problem(503, "shadow-unavailable", "The device shadow service is unavailable", {
      detail: "try again later",
    }),
  DeviceJobRejected: (e) =>
    problem(422, "job-refused", "The Jobs service refused the job", {
      detail: e.message,
      device_id: e.deviceId,
    }),
  DeviceNotRegistered: (e) =>
    problem(404, "device-not-registered", "The device is not a registered thing", {
      detail: e.message,
      device_id: e.deviceId,
    }),
  DeviceJobsUnavailable: () =>
    problem(503, "jobs-unavailable", "The Jobs service is unavailable", {
      detail: "try again later",
    }),
  ThingCertificatesUnavailable: () =>
    problem(503, "certificates-unavailable", "The certificate registry is unavailable", {
      detail: "try again later",
    }),
  UnknownTimeZone: (e) =>
    problem(400, "validation-error", "Invalid request", { detail: e.message }),
  // Storage internals stay in the operator's log.
  EventStoreUnavailable: storageUnavailable,
  StorageUnavailable: storageUnavailable,
  SegmentsNotWritten: storageUnavailable,
} satisfies Cases;

/** A typed failure as its problem: one exhaustive match (an unmapped failure does not compile). */
export const problemOf: (error: ApiFailure) => Problem = Match.type<ApiFailure>().pipe(
  Match.tagsExhaustive(cases),
);

const TAGS: ReadonlySet<string> = new Set(Object.keys(cases));

/** Whether something thrown is one of the use cases' typed failures. */
export const isApiFailure = (error: unknown): error is ApiFailure =>
  typeof error === "object" &&
  error !== null &&
  "_tag" in error &&
  TAGS.has(String((error as { _tag: unknown })._tag));

/** The problem for a typed failure; undefined for anything else (a 500 with no detail). */
export const problemFor = (error: unknown): Problem | undefined =>
  isApiFailure(error) ? problemOf(error) : undefined;
