import type { Problem } from "./problems.js";
import { problem } from "./problems.js";

/**
 * Every typed failure the API can meet, as a stable status and problem type.
 * Unknown failures are not mapped here: they become a 500 with no detail.
 */
export const problemFor = (error: unknown): Problem | undefined => {
  if (typeof error !== "object" || error === null || !("_tag" in error)) return undefined;
  const e = error as { _tag: string; message: string } & Record<string, unknown>;
  switch (e._tag) {
    case "DeviceAlreadyAssigned": {
      const current = e.current as { patientId: string; since: number };
      return problem(409, "device-already-assigned", "Device already assigned", {
        detail: e.message,
        device_id: e.deviceId,
        current_patient_id: current.patientId,
        assigned_since: current.since,
      });
    }
    case "NoActiveAssignment":
      return problem(404, "no-active-assignment", "No active assignment", {
        detail: e.message,
        device_id: e.deviceId,
      });
    case "AssignmentBelongsToAnotherPatient":
      return problem(
        409,
        "assignment-belongs-to-another-patient",
        "Assignment belongs to another patient",
        {
          detail: e.message,
          device_id: e.deviceId,
        },
      );
    case "EventTimeBeforeLastEvent":
      return problem(422, "time-before-last-event", "Time is before the device's last event", {
        detail: e.message,
        last_event_at: e.lastEventAt,
      });
    case "EventTimeInFuture":
      return problem(422, "time-in-future", "Time is in the future", {
        detail: e.message,
        max_skew_ms: e.maxSkewMs,
      });
    case "EmptyAssignmentInterval":
      return problem(422, "empty-assignment", "An assignment must last at least 1 ms", {
        detail: e.message,
      });
    case "VersionConflict":
      return problem(409, "concurrent-change", "The device changed concurrently; retry", {
        detail: e.message,
      });
    case "InvalidCursor":
      return problem(400, "invalid-cursor", "Invalid cursor", {
        detail: "cursor is not one this API returned",
      });
    case "EventStoreUnavailable":
    case "StorageUnavailable":
    case "SegmentsNotWritten":
      return problem(503, "storage-unavailable", "Storage unavailable", {
        detail: "try again later",
      });
    default:
      return undefined;
  }
};
