import { Schema } from "effect";
import {
  type AssignmentEvent,
  type AssignmentState,
  type CurrentAssignment,
  EndReason,
} from "./assignment.js";
import { Actor, DeviceId, EpochMillis, Notes, PatientId, PatientName } from "./ids.js";

/**
 * One assignment of one device, `[start, end)`; `end` is null while it lasts.
 * This is the audit trail's row: who assigned it, when, who ended it, when, why.
 */
export const AssignmentInterval = Schema.Struct({
  deviceId: DeviceId,
  patientId: PatientId,
  patientName: Schema.optionalWith(PatientName, { exact: true }),
  assignedBy: Actor,
  start: EpochMillis,
  end: Schema.NullOr(EpochMillis),
  endedBy: Schema.optionalWith(Actor, { exact: true }),
  endReason: Schema.optionalWith(EndReason, { exact: true }),
  notes: Schema.optionalWith(Notes, { exact: true }),
});
export type AssignmentInterval = typeof AssignmentInterval.Type;

export type AssignmentStatus = "active" | EndReason;

/** The status column of the historical device–patient mapping table. */
export const statusOf = (interval: AssignmentInterval): AssignmentStatus =>
  interval.end === null ? "active" : (interval.endReason ?? "completed");

/** Who wears the device now, if anyone. */
export const currentAssignment = (state: AssignmentState): CurrentAssignment | null =>
  state._tag === "Assigned" ? state.current : null;

/** A device's assignment intervals, oldest first (ordered and non-overlapping by invariant 2). */
export const intervalsOf = (
  events: Iterable<AssignmentEvent>,
): ReadonlyArray<AssignmentInterval> => {
  const out: Array<AssignmentInterval> = [];
  for (const event of events) {
    if (event._tag === "DeviceAssigned") {
      out.push({
        deviceId: event.deviceId,
        patientId: event.patientId,
        assignedBy: event.assignedBy,
        start: event.at,
        end: null,
        ...(event.patientName !== undefined ? { patientName: event.patientName } : {}),
        ...(event.notes !== undefined ? { notes: event.notes } : {}),
      });
    } else {
      const open = out.at(-1);
      if (open !== undefined && open.end === null) {
        out[out.length - 1] = {
          ...open,
          end: event.at,
          endedBy: event.endedBy,
          endReason: event.reason,
        };
      }
    }
  }
  return out;
};

/** The audit trail as the clinic reads it: newest assignment first. */
export const auditTrail = (events: Iterable<AssignmentEvent>): ReadonlyArray<AssignmentInterval> =>
  [...intervalsOf(events)].reverse();

/**
 * A patient's active devices: exactly the devices whose current assignment
 * names the patient (invariant 6). A patient may wear several at once.
 */
export const patientActiveDevices = (
  devices: Iterable<ReadonlyArray<AssignmentInterval>>,
  patientId: PatientId,
): ReadonlyArray<AssignmentInterval> => {
  const out: Array<AssignmentInterval> = [];
  for (const intervals of devices) {
    const last = intervals.at(-1);
    if (last !== undefined && last.end === null && last.patientId === patientId) out.push(last);
  }
  return out.sort(byStartThenDevice);
};

/** Every device a patient ever wore, with its intervals, oldest first. */
export const patientDeviceHistory = (
  devices: Iterable<ReadonlyArray<AssignmentInterval>>,
  patientId: PatientId,
): ReadonlyArray<AssignmentInterval> => {
  const out: Array<AssignmentInterval> = [];
  for (const intervals of devices) {
    for (const interval of intervals) if (interval.patientId === patientId) out.push(interval);
  }
  return out.sort(byStartThenDevice);
};

/** The interval that contains `t`, if any. `intervals` ordered by start (as `intervalsOf` returns them). */
export const intervalAt = (
  intervals: ReadonlyArray<AssignmentInterval>,
  t: number,
): AssignmentInterval | undefined => {
  const i = indexAt(intervals, t, -1);
  return i < 0 ? undefined : intervals[i];
};

/**
 * Index of the interval containing `t`, or -1. `hint` (a previous answer) makes
 * runs of nearby times O(1); otherwise a binary search.
 */
export const indexAt = (
  intervals: ReadonlyArray<AssignmentInterval>,
  t: number,
  hint: number,
): number => {
  if (hint >= 0) {
    const h = intervals[hint];
    if (h !== undefined && h.start <= t && (h.end === null || t < h.end)) return hint;
  }
  let lo = 0;
  let hi = intervals.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if ((intervals[mid] as AssignmentInterval).start <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  if (found < 0) return -1;
  const candidate = intervals[found] as AssignmentInterval;
  return candidate.end === null || t < candidate.end ? found : -1;
};

const byStartThenDevice = (a: AssignmentInterval, b: AssignmentInterval): number =>
  a.start - b.start || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);
