import {
  type Commit,
  DEFAULT_RETENTION_MS,
  type EventStore,
  type EventStoreUnavailable,
  enrich,
  type SegmentsNotWritten,
  SensorStore,
  type StorageUnavailable,
  type StoredSegment,
  segmentKey,
} from "@medusa/domain";
import { Effect } from "effect";
import type { IntervalCache } from "../ingest/interval-cache.js";

export interface ReattributionReport {
  readonly deviceId: string;
  readonly version: number;
  readonly from: number;
  /** Items examined and items rewritten (a split counts its pieces). */
  readonly examined: number;
  readonly rewritten: number;
}

/**
 * Rewrites the samples a commit's change affects: everything stored for the
 * device from the commit's effective time (its earliest event) on is
 * attributed again with the stream's current intervals; items that straddle
 * a new boundary are split. `onlyOlderThan` limits a pass to items
 * attributed with an older stream version (the second pass).
 */
export const reattribute = (
  commit: Commit,
  cache: IntervalCache,
  options: { readonly retentionMs?: number; readonly onlyOlderThan?: number } = {},
): Effect.Effect<
  ReattributionReport,
  EventStoreUnavailable | StorageUnavailable | SegmentsNotWritten,
  EventStore | SensorStore
> =>
  Effect.gen(function* () {
    const from = Math.min(...commit.events.map((e) => e.at));
    const { intervals, version } = yield* cache.load(commit.deviceId);
    const store = yield* SensorStore;
    const items = yield* store.deviceSegments(commit.deviceId, {
      start: from,
      end: Number.MAX_SAFE_INTEGER,
    });
    const stale =
      options.onlyOlderThan === undefined
        ? items
        : items.filter((s) => s.attributedVersion < (options.onlyOlderThan as number));
    const remove: Array<number> = [];
    const add: Array<StoredSegment> = [];
    for (const item of stale) {
      const pieces = enrich(commit.deviceId, item.samples, intervals, {
        retentionMs: options.retentionMs ?? DEFAULT_RETENTION_MS,
      });
      const unchanged =
        pieces.length === 1 &&
        pieces[0]?.patientId === item.patientId &&
        pieces[0]?.assignmentTimestamp === item.assignmentTimestamp &&
        item.attributedVersion >= version;
      if (unchanged) continue;
      remove.push(item.timestamp);
      for (const p of pieces)
        add.push({ ...p, timestamp: segmentKey(p.samples), attributedVersion: version });
    }
    if (remove.length > 0) yield* store.replace(commit.deviceId, remove, add);
    return {
      deviceId: commit.deviceId,
      version,
      from,
      examined: stale.length,
      rewritten: add.length,
    };
  });

/**
 * Both passes: at once, and again after `settleMs` for items an ingest wrote
 * with intervals cached before the commit. `settleMs` must exceed the
 * interval cache's TTL plus the longest an ingest (or a pass) can run.
 */
export const reattributeAndSettle = (
  commit: Commit,
  cache: IntervalCache,
  options: { readonly retentionMs?: number; readonly settleMs: number },
) =>
  Effect.gen(function* () {
    cache.invalidate(commit.deviceId);
    const first = yield* reattribute(commit, cache, options);
    yield* Effect.sleep(options.settleMs);
    const second = yield* reattribute(commit, cache, { ...options, onlyOlderThan: commit.version });
    return [first, second] as const;
  });
