import type { DeviceId, EpochMillis, PatientId } from "./ids.js";
import { type AssignmentInterval, indexAt } from "./projections.js";
import type { Sample } from "./sample.js";

/** Patient id stored for samples taken while nobody wore the device. */
export const UNASSIGNED = "UNASSIGNED";
export type UnassignedPatient = typeof UNASSIGNED;

export const DAY_MS = 86_400_000;
export const DEFAULT_RETENTION_MS = 30 * DAY_MS;

/**
 * A maximal run of consecutive samples of one device that belong to one
 * assignment (or to nobody). This is what storage packs into one item.
 */
export interface Segment {
  readonly deviceId: DeviceId;
  readonly patientId: PatientId | UnassignedPatient;
  readonly patientName: string | null;
  /** Start of the assignment the samples belong to; null when unassigned. */
  readonly assignmentStart: EpochMillis | null;
  readonly samples: ReadonlyArray<Sample>;
  /**
   * Expiry for DynamoDB TTL, in epoch SECONDS (the one place that is not in
   * milliseconds, because DynamoDB TTL requires seconds): the retention
   * after the segment's latest sample.
   */
  readonly ttl: number;
}

export interface EnrichOptions {
  /** How long samples are kept after they were taken; 30 days unless configured. */
  readonly retentionMs?: number;
}

/**
 * Attributes samples by event time (invariant 7): a sample taken at `t` belongs
 * to the assignment whose interval `[start, end)` contains `t`, or to nobody.
 * Arrival order plays no part. `intervals` are the device's, ordered by start
 * (as `intervalsOf` returns them). Samples keep their input order; the result
 * is the input cut where the owner changes.
 */
export const enrich = (
  deviceId: DeviceId,
  samples: ReadonlyArray<Sample>,
  intervals: ReadonlyArray<AssignmentInterval>,
  options: EnrichOptions = {},
): ReadonlyArray<Segment> => {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const segments: Array<Segment> = [];
  let runStart = 0;
  let runOwner = -2; // interval index, -1 for nobody, -2 before the first sample
  let runLatest = 0;
  let hint = -1;
  const n = samples.length;
  for (let i = 0; i < n; i++) {
    const t = (samples[i] as Sample).timestamp;
    const owner = indexAt(intervals, t, hint);
    if (owner >= 0) hint = owner;
    if (owner !== runOwner) {
      if (i > 0) {
        segments.push(
          segmentOf(deviceId, intervals, runOwner, samples, runStart, i, runLatest, retentionMs),
        );
      }
      runStart = i;
      runOwner = owner;
      runLatest = t;
    } else if (t > runLatest) {
      runLatest = t;
    }
  }
  if (n > 0) {
    segments.push(
      segmentOf(deviceId, intervals, runOwner, samples, runStart, n, runLatest, retentionMs),
    );
  }
  return segments;
};

const segmentOf = (
  deviceId: DeviceId,
  intervals: ReadonlyArray<AssignmentInterval>,
  owner: number,
  samples: ReadonlyArray<Sample>,
  from: number,
  to: number,
  latest: number,
  retentionMs: number,
): Segment => {
  const interval = owner >= 0 ? intervals[owner] : undefined;
  return {
    deviceId,
    patientId: interval ? interval.patientId : UNASSIGNED,
    patientName: interval?.patientName ?? null,
    assignmentStart: interval ? interval.start : null,
    samples: from === 0 && to === samples.length ? samples : samples.slice(from, to),
    ttl: Math.ceil((latest + retentionMs) / 1000),
  };
};
