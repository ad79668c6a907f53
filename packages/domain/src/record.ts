import { type AssignmentEvent, startedBy } from "./assignment.js";
import type {
  AssignmentSnapshot,
  CorrectionEvent,
  CorrectionReason,
  CorrectionStamp,
} from "./corrections.js";
import { stampOf } from "./corrections.js";
import type { Actor, EpochMillis } from "./ids.js";
import { type Commit, eventsOf } from "./ports/event-store.js";
import { type AssignmentInterval, intervalsOf } from "./projections.js";

// The record of a device over two times: effective time (when a device was on
// a patient) and recorded time (when we learned it: a commit's `committedAt`).

/**
 * When a commit is recorded: its command's `now`, but never before the
 * commit it follows, so that recorded time is monotonic per stream (a server
 * whose clock lags records at the previous commit's time) and "the record
 * as of T" is always a prefix of the stream.
 */
export const recordedTime = (commits: ReadonlyArray<Commit>, now: EpochMillis): EpochMillis => {
  const last = commits.at(-1)?.committedAt;
  return last !== undefined && last > now ? last : now;
};

/** The commits recorded up to and including `t`: what we knew at `t`. */
export const commitsAsOf = (commits: ReadonlyArray<Commit>, t: number): ReadonlyArray<Commit> => {
  let n = 0;
  while (n < commits.length && (commits[n] as Commit).committedAt <= t) n++;
  return n === commits.length ? commits : commits.slice(0, n);
};

/** What we believed at `t`: the device's effective intervals as recorded up to `t`. */
export const intervalsAsOf = (
  commits: ReadonlyArray<Commit>,
  t: number,
): ReadonlyArray<AssignmentInterval> => intervalsOf(eventsOf(commitsAsOf(commits, t)));

/** One correction, as the audit trail shows it beside the assignment it corrected. */
export interface RecordedCorrection {
  readonly kind: "retracted" | "patient_corrected" | "period_amended";
  readonly by: Actor;
  readonly recordedAt: EpochMillis;
  readonly reason: CorrectionReason;
  readonly note: string;
  /** The assignment as it stood before. */
  readonly before: AssignmentSnapshot;
  /** And after; null for a retraction. */
  readonly after: AssignmentSnapshot | null;
}

/** One assignment in a device's audit trail: as it stands, when it was recorded, and every correction of it. */
export interface AssignmentRecord {
  /** The assignment with every correction applied; a retracted one is marked `retracted`. */
  readonly interval: AssignmentInterval;
  /** When the assignment was recorded (by `interval.assignedBy`). */
  readonly recordedAt: EpochMillis;
  /** When its end was recorded (by `interval.endedBy`); null while it lasts. */
  readonly endRecordedAt: EpochMillis | null;
  /** Oldest first. */
  readonly corrections: ReadonlyArray<RecordedCorrection>;
}

interface Entry {
  interval: AssignmentInterval;
  readonly recordedAt: EpochMillis;
  endRecordedAt: EpochMillis | null;
  readonly corrections: Array<RecordedCorrection>;
}

/**
 * A device's audit trail, newest assignment first: every assignment ever
 * recorded, retracted ones included and marked, each with when it was
 * recorded and its corrections beside it (who, when, why, before and after).
 * With `asOf`, the trail as it stood then: only what was recorded up to that
 * time ("what did we believe at T").
 */
export const deviceRecord = (
  commits: ReadonlyArray<Commit>,
  options: { readonly asOf?: number } = {},
): ReadonlyArray<AssignmentRecord> => {
  const entries: Array<Entry> = [];
  const live = new Map<number, Entry>();
  const known = options.asOf === undefined ? commits : commitsAsOf(commits, options.asOf);
  for (const commit of known) {
    for (const e of commit.events) {
      if (e._tag === "DeviceAssigned") {
        const entry: Entry = {
          interval: startedBy(e),
          recordedAt: commit.committedAt,
          endRecordedAt: null,
          corrections: [],
        };
        entries.push(entry);
        live.set(e.at, entry);
        continue;
      }
      if (e._tag === "AssignmentEnded") {
        const entry = live.get(e.start);
        if (entry === undefined) continue;
        entry.interval = { ...entry.interval, end: e.at, endedBy: e.endedBy, endReason: e.reason };
        entry.endRecordedAt = commit.committedAt;
        continue;
      }
      const entry = live.get(e.assignment.start);
      if (entry === undefined) continue;
      const after = correctedSnapshot(e);
      entry.corrections.push({
        kind: KIND[e._tag],
        by: e.correctedBy,
        recordedAt: e.recordedAt,
        reason: e.reason,
        note: e.note,
        before: e.assignment,
        after,
      });
      live.delete(e.assignment.start);
      entry.interval =
        after === null
          ? { ...entry.interval, retracted: true, correction: stampOf(e) }
          : { ...withSnapshot(entry.interval, after), correction: stampOf(e) };
      if (after !== null) live.set(after.start, entry);
    }
  }
  return entries.sort((a, b) => b.interval.start - a.interval.start || b.recordedAt - a.recordedAt);
};

const KIND = {
  AssignmentRetracted: "retracted",
  AssignmentPatientCorrected: "patient_corrected",
  AssignmentPeriodAmended: "period_amended",
} as const satisfies Record<CorrectionEvent["_tag"], RecordedCorrection["kind"]>;

/** The assignment as a correction leaves it; null when retracted. */
const correctedSnapshot = (e: CorrectionEvent): AssignmentSnapshot | null => {
  switch (e._tag) {
    case "AssignmentRetracted":
      return null;
    case "AssignmentPatientCorrected": {
      const { patientName: _wrong, ...rest } = e.assignment;
      return {
        ...rest,
        patientId: e.patientId,
        ...(e.patientName !== undefined ? { patientName: e.patientName } : {}),
      };
    }
    case "AssignmentPeriodAmended":
      return { ...e.assignment, start: e.start, end: e.end };
  }
};

/**
 * The mapping row a correction leaves: the corrected assignment as it now
 * stands (a retracted one marked, without its end reason), with the
 * correction's stamp. The table's writes and the API's answers use it.
 */
export const correctedRow = (e: CorrectionEvent): AssignmentInterval => {
  const after = correctedSnapshot(e);
  if (after === null) {
    const { endReason: _gone, ...rest } = e.assignment;
    return { deviceId: e.deviceId, ...rest, retracted: true, correction: stampOf(e) };
  }
  return { deviceId: e.deviceId, ...after, correction: stampOf(e) };
};

/** An interval with a snapshot's content (the device stays; the latest correction is set apart). */
const withSnapshot = (i: AssignmentInterval, s: AssignmentSnapshot): AssignmentInterval => ({
  deviceId: i.deviceId,
  ...s,
  ...(i.correction !== undefined ? { correction: i.correction } : {}),
});

/**
 * The rows of the device–patient mapping table that a device's events
 * write, keyed by `(device, start)`, oldest first: one row per assignment
 * at its effective start, corrections applied; a retracted row stays,
 * marked (`retracted`, status `entered_in_error`, without its end reason),
 * until an assignment that truly started at the same millisecond takes its
 * key. Both read models (DynamoDB's table, the in-memory twin) hold exactly
 * this; `mappingWrites` in `@medusa/adapters` is the same fold as table
 * writes.
 */
export const mappingRowsOf = (
  events: Iterable<AssignmentEvent>,
): ReadonlyArray<AssignmentInterval> => {
  const rows = new Map<number, AssignmentInterval>();
  // Rows whose key a moved row took before they moved themselves (a period amended
  // with its adjoining one: the earlier moves into the later's start first), by start.
  const displaced = new Map<number, AssignmentInterval>();
  for (const e of events) {
    switch (e._tag) {
      case "DeviceAssigned":
        rows.set(e.at, startedBy(e));
        break;
      case "AssignmentEnded": {
        const row = rows.get(e.start);
        if (row) rows.set(e.start, { ...row, end: e.at, endedBy: e.endedBy, endReason: e.reason });
        break;
      }
      case "AssignmentRetracted": {
        const row = rows.get(e.assignment.start);
        if (!row) break;
        const { endReason: _gone, ...rest } = row;
        rows.set(e.assignment.start, { ...rest, retracted: true, correction: stampOf(e) });
        break;
      }
      case "AssignmentPatientCorrected": {
        const row = rows.get(e.assignment.start);
        if (!row) break;
        const { patientName: _wrong, ...rest } = row;
        rows.set(e.assignment.start, {
          ...rest,
          patientId: e.patientId,
          ...(e.patientName !== undefined ? { patientName: e.patientName } : {}),
          correction: stampOf(e),
        });
        break;
      }
      case "AssignmentPeriodAmended": {
        const stamp: CorrectionStamp = stampOf(e);
        if (e.start === e.assignment.start) {
          const row = rows.get(e.start);
          if (row) rows.set(e.start, { ...row, end: e.end, correction: stamp });
        } else {
          // The key moves: the row is written anew at its start from the snapshot.
          if (!displaced.delete(e.assignment.start)) rows.delete(e.assignment.start);
          const there = rows.get(e.start);
          if (there !== undefined) displaced.set(e.start, there);
          rows.set(e.start, {
            deviceId: e.deviceId,
            ...e.assignment,
            start: e.start,
            end: e.end,
            correction: stamp,
          });
        }
        break;
      }
    }
  }
  return [...rows.values()].sort((a, b) => a.start - b.start);
};
