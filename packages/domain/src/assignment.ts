import { Schema } from "effect";
import {
  AssignmentPatientCorrected,
  AssignmentPeriodAmended,
  AssignmentRetracted,
  stampOf,
} from "./corrections.js";
import { EndReason } from "./end-reason.js";
import { Actor, DeviceId, EpochMillis, Notes, PatientId, PatientName } from "./ids.js";
import { ImportProvenance } from "./import/provenance.js";

import type { AssignmentInterval } from "./projections.js";

export { EndReason };

/** A device was put on a patient from `at` on. */
export const DeviceAssigned = Schema.TaggedStruct("DeviceAssigned", {
  deviceId: DeviceId,
  patientId: PatientId,
  patientName: Schema.optionalWith(PatientName, { exact: true }),
  assignedBy: Actor,
  at: EpochMillis,
  notes: Schema.optionalWith(Notes, { exact: true }),
  /** Set on events imported from the historical table (`medusa import`). */
  provenance: Schema.optionalWith(ImportProvenance, { exact: true }),
});
export type DeviceAssigned = typeof DeviceAssigned.Type;

/**
 * A device's assignment ended at `at` (exclusive end of the interval).
 * `start` names the assignment that ended, so the event reads on its own: in
 * the audit trail, in a stream consumer, and as the read model's key. Stored
 * events spell it `since`, as they always have.
 */
export const AssignmentEnded = Schema.TaggedStruct("AssignmentEnded", {
  deviceId: DeviceId,
  patientId: PatientId,
  start: Schema.propertySignature(EpochMillis).pipe(Schema.fromKey("since")),
  endedBy: Actor,
  at: EpochMillis,
  reason: EndReason,
  /** Set on events imported from the historical table (`medusa import`). */
  provenance: Schema.optionalWith(ImportProvenance, { exact: true }),
});
export type AssignmentEnded = typeof AssignmentEnded.Type;

/** Every event of a device's stream: the ordinary ones, and the corrections of the record. */
export const AssignmentEvent = Schema.Union(
  DeviceAssigned,
  AssignmentEnded,
  AssignmentRetracted,
  AssignmentPatientCorrected,
  AssignmentPeriodAmended,
);
export type AssignmentEvent = typeof AssignmentEvent.Type;

/** The assignment a device is in right now. */
export const CurrentAssignment = Schema.Struct({
  deviceId: DeviceId,
  patientId: PatientId,
  patientName: Schema.optionalWith(PatientName, { exact: true }),
  assignedBy: Actor,
  start: EpochMillis,
  notes: Schema.optionalWith(Notes, { exact: true }),
});
export type CurrentAssignment = typeof CurrentAssignment.Type;

/**
 * A device's live assignments, newest first, as a list that an event extends
 * by one node (replaying a long stream stays linear). Corrections rebuild the
 * nodes down to the one they change, usually the first few.
 */
export type LiveAssignments = {
  readonly interval: AssignmentInterval;
  readonly older: LiveAssignments;
} | null;

/** An assignment entered in error: its start, and when it was retracted. */
export type RetractedAssignments = {
  readonly start: EpochMillis;
  readonly retractedAt: EpochMillis;
  readonly older: RetractedAssignments;
} | null;

/** What the decider knows of a device's past: its live assignments, and which were retracted. */
export interface AssignmentHistory {
  readonly live: LiveAssignments;
  readonly retracted: RetractedAssignments;
}

/**
 * Nobody wears the device. `lastEventAt` is the latest effective time of its
 * live assignments (the newest one's end), null when it has none.
 */
export interface Unassigned {
  readonly _tag: "Unassigned";
  readonly lastEventAt: EpochMillis | null;
  readonly history: AssignmentHistory;
}

export interface Assigned {
  readonly _tag: "Assigned";
  readonly current: CurrentAssignment;
  /** The current assignment's start: the latest effective time of the device's assignments. */
  readonly lastEventAt: EpochMillis;
  readonly history: AssignmentHistory;
}

/** The write model of one device stream. */
export type AssignmentState = Unassigned | Assigned;

const noHistory: AssignmentHistory = { live: null, retracted: null };

export const initialState = (): AssignmentState => ({
  _tag: "Unassigned",
  lastEventAt: null,
  history: noHistory,
});

/**
 * Applies one accepted event. Total: an event that does not fit the state (it
 * can only come from a corrupted log) is folded in the only sensible way
 * rather than throwing, since the log is the source of truth.
 */
export const evolve = (state: AssignmentState, event: AssignmentEvent): AssignmentState => {
  const { live, retracted } = state.history;
  switch (event._tag) {
    case "DeviceAssigned":
      return {
        _tag: "Assigned",
        current: currentFrom(event),
        lastEventAt: event.at,
        history: { live: { interval: startedBy(event), older: live }, retracted },
      };
    case "AssignmentEnded": {
      const open = live !== null && live.interval.end === null ? live : null;
      const closed: LiveAssignments = open
        ? {
            interval: {
              ...open.interval,
              end: event.at,
              endedBy: event.endedBy,
              endReason: event.reason,
            },
            older: open.older,
          }
        : live;
      return { _tag: "Unassigned", lastEventAt: event.at, history: { live: closed, retracted } };
    }
    case "AssignmentRetracted":
      return stateOf({
        live: rebuild(live, event.assignment.start, () => undefined),
        retracted: {
          start: event.assignment.start,
          retractedAt: event.recordedAt,
          older: retracted,
        },
      });
    case "AssignmentPatientCorrected":
      return stateOf({
        live: rebuild(live, event.assignment.start, (i) => {
          const { patientName: _wrong, ...rest } = i;
          return {
            ...rest,
            patientId: event.patientId,
            ...(event.patientName !== undefined ? { patientName: event.patientName } : {}),
            correction: stampOf(event),
          };
        }),
        retracted,
      });
    case "AssignmentPeriodAmended":
      return stateOf({
        live: rebuild(live, event.assignment.start, (i) => ({
          ...i,
          start: event.start,
          end: event.end,
          correction: stampOf(event),
        })),
        retracted,
      });
    default:
      return absurd(event, state);
  }
};

/** Folds a log (or any chunk of it) into state. */
export const replay = (
  events: Iterable<AssignmentEvent>,
  from: AssignmentState = initialState(),
): AssignmentState => {
  let state = from;
  for (const event of events) state = evolve(state, event);
  return state;
};

/** The interval a `DeviceAssigned` starts: open until an `AssignmentEnded` closes it. */
export const startedBy = (e: DeviceAssigned): AssignmentInterval => ({
  deviceId: e.deviceId,
  patientId: e.patientId,
  assignedBy: e.assignedBy,
  start: e.at,
  end: null,
  ...(e.patientName !== undefined ? { patientName: e.patientName } : {}),
  ...(e.notes !== undefined ? { notes: e.notes } : {}),
});

/**
 * The list with the assignment that starts at `start` replaced by what
 * `change` makes of it (removed for undefined). Unchanged when none does.
 */
const rebuild = (
  live: LiveAssignments,
  start: number,
  change: (i: AssignmentInterval) => AssignmentInterval | undefined,
): LiveAssignments => {
  const newer: Array<AssignmentInterval> = [];
  let node = live;
  while (node !== null && node.interval.start !== start) {
    newer.push(node.interval);
    node = node.older;
  }
  if (node === null) return live;
  const changed = change(node.interval);
  if (changed !== undefined && changed.start !== start) {
    // An amended start may move the assignment past its neighbours: keep the list ordered.
    const all = [...newer, changed];
    for (let rest = node.older; rest !== null; rest = rest.older) all.push(rest.interval);
    all.sort((a, b) => b.start - a.start);
    let sorted: LiveAssignments = null;
    for (let k = all.length - 1; k >= 0; k--)
      sorted = { interval: all[k] as AssignmentInterval, older: sorted };
    return sorted;
  }
  let out: LiveAssignments = changed ? { interval: changed, older: node.older } : node.older;
  for (let k = newer.length - 1; k >= 0; k--)
    out = { interval: newer[k] as AssignmentInterval, older: out };
  return out;
};

/** The state a history makes: assigned while its newest assignment lasts. */
const stateOf = (history: AssignmentHistory): AssignmentState => {
  const newest = history.live?.interval;
  if (newest !== undefined && newest.end === null) {
    return {
      _tag: "Assigned",
      current: {
        deviceId: newest.deviceId,
        patientId: newest.patientId,
        assignedBy: newest.assignedBy,
        start: newest.start,
        ...(newest.patientName !== undefined ? { patientName: newest.patientName } : {}),
        ...(newest.notes !== undefined ? { notes: newest.notes } : {}),
      },
      lastEventAt: newest.start,
      history,
    };
  }
  return { _tag: "Unassigned", lastEventAt: newest?.end ?? null, history };
};

const currentFrom = (e: DeviceAssigned): CurrentAssignment => ({
  deviceId: e.deviceId,
  patientId: e.patientId,
  assignedBy: e.assignedBy,
  start: e.at,
  ...(e.patientName !== undefined ? { patientName: e.patientName } : {}),
  ...(e.notes !== undefined ? { notes: e.notes } : {}),
});

const absurd = (_: never, state: AssignmentState): AssignmentState => state;
