import { Effect } from "effect";
import { DEFAULT_RETENTION_MS } from "../enrichment.js";
import type { Commit, EventStoreUnavailable } from "../ports/event-store.js";
import { AssignmentIntervals } from "../ports/intervals.js";
import { type SegmentsNotWritten, SensorStore } from "../ports/sensor-store.js";
import type { StorageUnavailable } from "../ports/storage.js";
import { changedFrom, reattributionPlan } from "../reattribution.js";

export interface ReattributionReport {
  readonly deviceId: string;
  /** The stream version the samples are attributed with now. */
  readonly version: number;
  /** From when the commit could change who wore the device. */
  readonly from: number;
  /** Items examined and items written (a split counts its pieces). */
  readonly examined: number;
  readonly rewritten: number;
}

export type ReattributionFailure = EventStoreUnavailable | StorageUnavailable | SegmentsNotWritten;

export interface ReattributeOptions {
  readonly retentionMs?: number;
  /** Only items attributed with a stream version older than this (the second pass). */
  readonly onlyOlderThan?: number;
}

/**
 * Rewrites the samples a commit's change affects: everything stored for the
 * device from the commit's effective time on is attributed again with the
 * stream's current intervals (`reattributionPlan`); items that straddle a new
 * boundary are split.
 */
export const reattribute = (
  commit: Commit,
  options: ReattributeOptions = {},
): Effect.Effect<ReattributionReport, ReattributionFailure, AssignmentIntervals | SensorStore> =>
  Effect.gen(function* () {
    const from = changedFrom(commit.events);
    const current = yield* (yield* AssignmentIntervals).current(commit.deviceId);
    const store = yield* SensorStore;
    const items = yield* store.deviceSegments(commit.deviceId, {
      start: from,
      end: Number.MAX_SAFE_INTEGER,
    });
    const plan = reattributionPlan(items, current, {
      retentionMs: options.retentionMs ?? DEFAULT_RETENTION_MS,
      ...(options.onlyOlderThan !== undefined ? { onlyOlderThan: options.onlyOlderThan } : {}),
    });
    if (plan.remove.length > 0) yield* store.replace(commit.deviceId, plan.remove, plan.add);
    return {
      deviceId: commit.deviceId,
      version: current.version,
      from,
      examined: plan.examined,
      rewritten: plan.add.length,
    };
  });

/**
 * Both passes: at once, and again after `settleMs` for items an ingest wrote
 * with intervals it read before the commit. `settleMs` must exceed the
 * interval cache's time to live plus the longest an ingest can run.
 */
export const reattributeAndSettle = (
  commit: Commit,
  options: { readonly retentionMs?: number; readonly settleMs: number },
): Effect.Effect<
  readonly [ReattributionReport, ReattributionReport],
  ReattributionFailure,
  AssignmentIntervals | SensorStore
> =>
  Effect.gen(function* () {
    yield* (yield* AssignmentIntervals).forget(commit.deviceId);
    const first = yield* reattribute(commit, options);
    yield* Effect.sleep(options.settleMs);
    const second = yield* reattribute(commit, { ...options, onlyOlderThan: commit.version });
    return [first, second] as const;
  });
