import { Effect } from "effect";
import { EmptyTimeRange } from "../errors.js";
import type { DeviceId, PatientId } from "../ids.js";
import { EventStore, type EventStoreUnavailable } from "../ports/event-store.js";
import { AssignmentReadModel } from "../ports/read-model.js";
import { type InvalidCursor, SensorStore, type TimelinePage } from "../ports/sensor-store.js";
import type { StorageUnavailable, TimeRange } from "../ports/storage.js";
import {
  type AssignmentInterval,
  auditTrail,
  patientActiveDevices,
  patientDeviceHistory,
} from "../projections.js";
import { type AssignmentRecord, deviceRecord } from "../record.js";

/** Who wears the device now, if anyone. */
export const currentPatient = (
  deviceId: DeviceId,
): Effect.Effect<AssignmentInterval | null, StorageUnavailable, AssignmentReadModel> =>
  Effect.flatMap(AssignmentReadModel, (m) => m.currentAssignment(deviceId));

/** A device's audit trail: every assignment, newest first. */
export const deviceAssignments = (
  deviceId: DeviceId,
): Effect.Effect<ReadonlyArray<AssignmentInterval>, StorageUnavailable, AssignmentReadModel> =>
  Effect.flatMap(AssignmentReadModel, (m) => m.deviceIntervals(deviceId)).pipe(
    Effect.map(auditTrail),
  );

/** The devices a patient wears now, or (`history`) every assignment of the patient, oldest first. */
export const patientDevices = (
  patientId: PatientId,
  options: { readonly history: boolean },
): Effect.Effect<ReadonlyArray<AssignmentInterval>, StorageUnavailable, AssignmentReadModel> =>
  Effect.flatMap(AssignmentReadModel, (m) => m.patientIntervals(patientId)).pipe(
    Effect.map((intervals) =>
      options.history
        ? patientDeviceHistory(intervals, patientId)
        : patientActiveDevices(intervals, patientId),
    ),
  );

/** A page of a patient's samples from every device they wore in `range`. */
export const patientTimeline = (
  patientId: PatientId,
  range: TimeRange,
  page: { readonly limit: number; readonly cursor?: string },
): Effect.Effect<TimelinePage, EmptyTimeRange | InvalidCursor | StorageUnavailable, SensorStore> =>
  range.end <= range.start
    ? Effect.fail(new EmptyTimeRange(range))
    : Effect.flatMap(SensorStore, (s) => s.patientTimeline(patientId, range, page));

/**
 * A device's record as it stood at recorded time `asOf` ("what did we
 * believe then"): every assignment recorded by then, newest first, with the
 * corrections recorded by then beside it. Read from the event stream, the
 * only place that keeps what was believed before a correction.
 */
export const deviceRecordAsOf = (
  deviceId: DeviceId,
  asOf: number,
): Effect.Effect<ReadonlyArray<AssignmentRecord>, EventStoreUnavailable, EventStore> =>
  Effect.flatMap(EventStore, (store) => store.load(deviceId)).pipe(
    Effect.map((stream) => deviceRecord(stream.commits, { asOf })),
  );
