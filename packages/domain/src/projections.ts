import { Schema } from "effect";
import {
  type AssignmentEvent,
  type AssignmentState,
  type CurrentAssignment,
  type DeviceAssigned,
  EndReason,
  replay,
  startedBy,
} from "./assignment.js";
import { CorrectionStamp } from "./corrections.js";
import { Actor, DeviceId, EpochMillis, Notes, PatientId, PatientName } from "./ids.js";

/**
 * One assignment of one device, `[start, end)`; `end` is null while it lasts.
 * This is the audit trail's row: who assigned it, when, who ended it, when, why.
 * Times are effective (corrections applied); `correction` is the latest
 * correction of the assignment, and `retracted` marks one entered in error
 * (only the mapping table keeps those: no sample belongs to it).
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
  correction: Schema.optionalWith(CorrectionStamp, { exact: true }),
  retracted: Schema.optionalWith(Schema.Literal(true), { exact: true }),
});
export type AssignmentInterval = typeof AssignmentInterval.Type;

export type AssignmentStatus = "active" | EndReason | "entered_in_error";

/** The status column of the historical device–patient mapping table (a retracted row: `entered_in_error`). */
export const statusOf = (interval: AssignmentInterval): AssignmentStatus =>
  interval.retracted
    ? "entered_in_error"
    : interval.end === null
      ? "active"
      : (interval.endReason ?? "completed");

/** Who wears the device now, if anyone. */
export const currentAssignment = (state: AssignmentState): CurrentAssignment | null =>
  state._tag === "Assigned" ? state.current : null;

/** The interval an assignment event starts: open, until an `AssignmentEnded` closes it. */
export const intervalStartedBy = (event: DeviceAssigned): AssignmentInterval => startedBy(event);

/**
 * A device's assignment intervals as they stand, oldest first (ordered and
 * non-overlapping by invariant 2): every correction applied, retracted ones
 * left out. Enrichment, attribution and the interval cache use these.
 */
export const intervalsOf = (events: Iterable<AssignmentEvent>): ReadonlyArray<AssignmentInterval> =>
  liveIntervals(replay(events));

/** The live intervals of a state, oldest first. */
export const liveIntervals = (state: AssignmentState): ReadonlyArray<AssignmentInterval> => {
  const out: Array<AssignmentInterval> = [];
  for (let node = state.history.live; node !== null; node = node.older) out.push(node.interval);
  return out.reverse();
};

/** The audit trail as the clinic reads it: a device's intervals, newest assignment first. */
export const auditTrail = (
  intervals: ReadonlyArray<AssignmentInterval>,
): ReadonlyArray<AssignmentInterval> => [...intervals].reverse();

/**
 * A patient's active devices: exactly the devices whose current assignment
 * names the patient (invariant 6). A patient may wear several at once.
 * `intervals` may hold anyone's, of any devices (a device's current
 * assignment is its only interval without an end, by invariant 1).
 */
export const patientActiveDevices = (
  intervals: Iterable<AssignmentInterval>,
  patientId: PatientId,
): ReadonlyArray<AssignmentInterval> => {
  const out: Array<AssignmentInterval> = [];
  for (const i of intervals)
    if (i.end === null && i.patientId === patientId && !i.retracted) out.push(i);
  return out.sort(byStartThenDevice);
};

/** Every assignment of the patient, across devices, oldest first. */
export const patientDeviceHistory = (
  intervals: Iterable<AssignmentInterval>,
  patientId: PatientId,
): ReadonlyArray<AssignmentInterval> => {
  const out: Array<AssignmentInterval> = [];
  for (const i of intervals) if (i.patientId === patientId) out.push(i);
  return out.sort(byStartThenDevice);
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

/** Oldest first; of one start, by device id. */
export const byStartThenDevice = (a: AssignmentInterval, b: AssignmentInterval): number =>
  a.start - b.start || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0);
