import { Either } from "effect";
import type { AssignmentState, LiveAssignments } from "./assignment.js";
import type {
  AmendAssignmentPeriod,
  CorrectAssignmentPatient,
  CorrectionCommand,
  RetractAssignment,
} from "./correction-commands.js";
import {
  AssignmentAlreadyRetracted,
  AssignmentNotEnded,
  AssignmentNotFound,
  AssignmentsWouldOverlap,
  CorrectionChangesNothing,
} from "./correction-errors.js";
import type {
  AssignmentPeriodAmended,
  AssignmentSnapshot,
  CorrectionEvent,
} from "./corrections.js";
import type { DecisionPolicy } from "./decide.js";
import { type AssignmentRejection, EmptyAssignmentInterval, EventTimeInFuture } from "./errors.js";
import type { EpochMillis } from "./ids.js";
import type { AssignmentInterval } from "./projections.js";

type CorrectionDecision = Either.Either<
  readonly [CorrectionEvent, ...Array<CorrectionEvent>],
  AssignmentRejection
>;

/** The assignment a correction names, with its neighbours in time among the live ones. */
interface Target {
  readonly interval: AssignmentInterval;
  /** The live assignment just before it, if any. */
  readonly previous: AssignmentInterval | undefined;
  /** The live assignment just after it, if any. */
  readonly next: AssignmentInterval | undefined;
}

/**
 * Corrections: retract, correct the patient, amend the period. Each names an
 * assignment by its start as it stands; the result keeps the device's live
 * assignments ordered and non-overlapping (invariant 2) or is refused with
 * the assignment it would collide with.
 */
export const decideCorrection = (
  command: CorrectionCommand,
  state: AssignmentState,
  policy: DecisionPolicy,
): CorrectionDecision => {
  const found = targetOf(command, state);
  if (Either.isLeft(found)) return Either.left(found.left);
  const target = found.right;
  switch (command._tag) {
    case "RetractAssignment":
      return retract(command, target);
    case "CorrectAssignmentPatient":
      return correctPatient(command, target);
    case "AmendAssignmentPeriod":
      return amend(command, target, state.history.live, policy);
    default:
      return unreachable(command);
  }
};

const retract = (command: RetractAssignment, target: Target): CorrectionDecision =>
  Either.right([
    { _tag: "AssignmentRetracted", ...correctionOf(command, target.interval) },
  ] as const);

const correctPatient = (command: CorrectAssignmentPatient, target: Target): CorrectionDecision => {
  const i = target.interval;
  if (i.patientId === command.patientId && i.patientName === command.patientName)
    return Either.left(
      new CorrectionChangesNothing({ deviceId: command.deviceId, start: i.start }),
    );
  return Either.right([
    {
      _tag: "AssignmentPatientCorrected",
      ...correctionOf(command, i),
      patientId: command.patientId,
      ...(command.patientName !== undefined ? { patientName: command.patientName } : {}),
    },
  ] as const);
};

const amend = (
  command: AmendAssignmentPeriod,
  target: Target,
  live: LiveAssignments,
  policy: DecisionPolicy,
): CorrectionDecision => {
  const i = target.interval;
  const deviceId = command.deviceId;
  if (command.newEnd !== undefined && i.end === null)
    return Either.left(new AssignmentNotEnded({ deviceId, start: i.start }));
  const start = command.newStart ?? i.start;
  const end = command.newEnd ?? i.end;
  if (start === i.start && end === i.end)
    return Either.left(new CorrectionChangesNothing({ deviceId, start: i.start }));
  for (const [t, was] of [
    [start, i.start],
    [end, i.end],
  ] as const) {
    if (t !== null && t !== was && t > command.now + policy.maxFutureSkewMs)
      return Either.left(
        new EventTimeInFuture({
          deviceId,
          at: t,
          now: command.now,
          maxSkewMs: policy.maxFutureSkewMs,
        }),
      );
  }
  if (end !== null && end <= start)
    return Either.left(new EmptyAssignmentInterval({ deviceId, start, at: end }));
  // The adjoining assignments that move with the amended boundary (a hand-over).
  const moved: Array<{
    readonly was: AssignmentInterval;
    readonly start: number;
    end: number | null;
  }> = [];
  if (command.moveAdjoining) {
    const { previous, next } = target;
    if (start !== i.start && previous !== undefined && previous.end === i.start) {
      if (start <= previous.start)
        return Either.left(
          new EmptyAssignmentInterval({
            deviceId,
            start: previous.start,
            at: start as EpochMillis,
          }),
        );
      moved.push({ was: previous, start: previous.start, end: start });
    }
    if (end !== i.end && end !== null && next !== undefined && next.start === i.end) {
      if (next.end !== null && next.end <= end)
        return Either.left(new EmptyAssignmentInterval({ deviceId, start: end, at: next.end }));
      moved.push({ was: next, start: end, end: next.end });
    }
  }
  // Invariant 2: the earliest unchanged assignment that any changed one would overlap.
  const changed = [{ start, end }, ...moved];
  const skip = new Set<number>([i.start, ...moved.map((m) => m.was.start)]);
  const conflicting = oldestFirst(live).find(
    (other) => !skip.has(other.start) && changed.some((c) => overlaps(c, other)),
  );
  if (conflicting !== undefined)
    return Either.left(
      new AssignmentsWouldOverlap({
        deviceId,
        start,
        end,
        conflicting: {
          patientId: conflicting.patientId,
          start: conflicting.start,
          end: conflicting.end,
        },
      }),
    );
  const amended = (
    was: AssignmentInterval,
    s: number,
    e: number | null,
  ): AssignmentPeriodAmended => ({
    _tag: "AssignmentPeriodAmended",
    ...correctionOf(command, was),
    start: s as EpochMillis,
    end: e as EpochMillis | null,
  });
  return Either.right([
    amended(i, start, end),
    ...moved.map((m) => amended(m.was, m.start, m.end)),
  ] as const);
};

/** Whether two periods `[start, end)` (an open end: until further notice) share any time. */
const overlaps = (
  a: { readonly start: number; readonly end: number | null },
  b: { readonly start: number; readonly end: number | null },
): boolean =>
  a.start < (b.end ?? Number.POSITIVE_INFINITY) && b.start < (a.end ?? Number.POSITIVE_INFINITY);

/** The live assignment that starts at the command's `start`, or why there is none. */
const targetOf = (
  command: CorrectionCommand,
  state: AssignmentState,
): Either.Either<Target, AssignmentRejection> => {
  let next: AssignmentInterval | undefined;
  for (let node = state.history.live; node !== null; node = node.older) {
    if (node.interval.start === command.start)
      return Either.right({ interval: node.interval, previous: node.older?.interval, next });
    next = node.interval;
  }
  for (let r = state.history.retracted; r !== null; r = r.older) {
    if (r.start === command.start)
      return Either.left(
        new AssignmentAlreadyRetracted({
          deviceId: command.deviceId,
          start: command.start,
          retractedAt: r.retractedAt,
        }),
      );
  }
  return Either.left(new AssignmentNotFound({ deviceId: command.deviceId, start: command.start }));
};

/** What every correction event carries: the assignment as it stands, who, when recorded, why. */
const correctionOf = (command: CorrectionCommand, i: AssignmentInterval) => ({
  deviceId: command.deviceId,
  assignment: snapshotOf(i),
  correctedBy: command.actor,
  recordedAt: command.now,
  reason: command.reason,
  note: command.note,
});

/** An interval as a correction event records it (the mapping row's content). */
export const snapshotOf = (i: AssignmentInterval): AssignmentSnapshot => ({
  patientId: i.patientId,
  assignedBy: i.assignedBy,
  start: i.start,
  end: i.end,
  ...(i.patientName !== undefined ? { patientName: i.patientName } : {}),
  ...(i.endedBy !== undefined ? { endedBy: i.endedBy } : {}),
  ...(i.endReason !== undefined ? { endReason: i.endReason } : {}),
  ...(i.notes !== undefined ? { notes: i.notes } : {}),
});

const oldestFirst = (live: LiveAssignments): Array<AssignmentInterval> => {
  const out: Array<AssignmentInterval> = [];
  for (let node = live; node !== null; node = node.older) out.push(node.interval);
  return out.reverse();
};

const unreachable = (command: never): never => {
  throw new Error(`unknown command ${JSON.stringify(command)}`);
};
