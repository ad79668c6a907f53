import { Effect } from "effect";
import { type BlockStats, blockMetrics, blockStartOf, MetricsScratch } from "../activity/block.js";
import { columnsOf } from "../activity/columns.js";
import { afterCursor, decodeActivityCursor, encodeActivityCursor } from "../activity/cursor.js";
import {
  type DaySummary,
  dailySummaries,
  type LocalDate,
  localDays,
  type UnknownTimeZone,
} from "../activity/daily.js";
import { type ActivityEpoch, activityEpoch, byStartThenDevice } from "../activity/epochs.js";
import { NONWEAR_WINDOW_BLOCKS, nonWearBlocks } from "../activity/nonwear.js";
import {
  type ActivityBlock,
  type ActivityOptions,
  activityBlocksOf,
  activityPlan,
  blockRuns,
  blocksAffected,
  changeOf,
  type SampleChange,
} from "../activity/refresh.js";
import { BLOCK_MS, CONTEXT_MS, type CutPoints } from "../activity/settings.js";
import { EmptyTimeRange } from "../errors.js";
import type { DeviceId, PatientId } from "../ids.js";
import { ActivityStore, type ActivityStoreService } from "../ports/activity-store.js";
import {
  type InvalidCursor,
  SensorStore,
  type SensorStoreService,
  type TimelineSample,
} from "../ports/sensor-store.js";
import type { StorageUnavailable, TimeRange } from "../ports/storage.js";

/** Blocks one read of samples covers at most (2 hours: about 72,000 samples at 10 Hz). */
const BLOCKS_PER_READ = 8;
/** Blocks around a range whose statistics the non-wear rule reads (its windows, and their neighbours). */
const NONWEAR_MARGIN_MS = (NONWEAR_WINDOW_BLOCKS + 1) * BLOCK_MS;

export interface ActivityRefreshReport {
  readonly devices: number;
  /** Blocks recomputed (each device's affected blocks, every patient's). */
  readonly blocks: number;
  readonly written: number;
  readonly removed: number;
  readonly unchanged: number;
}

/**
 * Keeps activity equal to the samples: for each device whose samples changed,
 * every block within `CONTEXT_MS` of a change is computed again from the
 * samples stored now, for every patient who has samples there, and written
 * where it differs; a patient's block whose samples all moved away is
 * deleted. The ingest and re-attribution (every command that moves samples,
 * whatever its type) report what they changed through the sensor store's
 * change feed, and the same feed drives this. Idempotent: a second run, a
 * duplicate or late change writes nothing new. Changes of one device must
 * be refreshed one after another (in AWS the stream keeps a device's records
 * in order; the local stack queues them per device).
 */
export const refreshActivity = (
  changes: ReadonlyArray<SampleChange>,
  options: ActivityOptions,
): Effect.Effect<ActivityRefreshReport, StorageUnavailable, SensorStore | ActivityStore> =>
  Effect.gen(function* () {
    const sensors = yield* SensorStore;
    const activity = yield* ActivityStore;
    const byDevice = new Map<DeviceId, Array<TimeRange>>();
    for (const c of changes) {
      const ranges = byDevice.get(c.deviceId) ?? [];
      ranges.push(c);
      byDevice.set(c.deviceId, ranges);
    }
    const totals = { devices: byDevice.size, blocks: 0, written: 0, removed: 0, unchanged: 0 };
    for (const [deviceId, ranges] of byDevice) {
      const blocks = blocksAffected(ranges);
      for (const run of blockRuns(blocks, BLOCKS_PER_READ)) {
        const segments = yield* sensors.deviceSegments(deviceId, {
          start: run.start - CONTEXT_MS,
          end: run.end + CONTEXT_MS,
        });
        const stored = yield* activity.deviceBlocks(deviceId, run);
        const starts: Array<number> = [];
        for (let b = run.start; b < run.end; b += BLOCK_MS) starts.push(b);
        const computed = activityBlocksOf(deviceId, segments, starts, options);
        const plan = activityPlan(stored, computed);
        if (plan.put.length > 0 || plan.remove.length > 0)
          yield* activity.apply(deviceId, plan.put, plan.remove);
        totals.blocks += starts.length;
        totals.written += plan.put.length;
        totals.removed += plan.remove.length;
        totals.unchanged += plan.unchanged;
      }
    }
    return totals;
  });

/** The statistics of each device's blocks, for the non-wear rule. */
const statsByDevice = (blocks: ReadonlyArray<ActivityBlock>) => {
  const out = new Map<DeviceId, Map<number, BlockStats>>();
  for (const b of blocks) {
    let m = out.get(b.deviceId);
    if (!m) {
      m = new Map();
      out.set(b.deviceId, m);
    }
    m.set(b.start, b.stats);
  }
  return out;
};

/** A patient's samples in `range` from every device (the whole timeline, page after page). */
const patientSamples = (patientId: PatientId, range: TimeRange) =>
  Effect.gen(function* () {
    const sensors = yield* SensorStore;
    const samples: Array<TimelineSample> = [];
    let cursor: string | undefined;
    do {
      const page = yield* sensors.patientTimeline(patientId, range, {
        limit: 10_000,
        ...(cursor !== undefined ? { cursor } : {}),
      });
      for (const s of page.samples) samples.push(s);
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    return samples;
  });

/**
 * The blocks of `rows` at `epochMs`: stored blocks as they are, blocks stored
 * at another epoch length computed again from the patient's samples.
 */
const blocksAt = (
  patientId: PatientId,
  rows: ReadonlyArray<ActivityBlock>,
  epochMs: number,
): Effect.Effect<
  ReadonlyArray<Pick<ActivityBlock, "deviceId" | "start" | "epochMs" | "epochs">>,
  InvalidCursor | StorageUnavailable,
  SensorStore
> =>
  Effect.gen(function* () {
    const ready = rows.filter((b) => b.epochMs === epochMs);
    const missing = rows.filter((b) => b.epochMs !== epochMs);
    if (missing.length === 0) return ready;
    const out: Array<Pick<ActivityBlock, "deviceId" | "start" | "epochMs" | "epochs">> = [...ready];
    const scratch = new MetricsScratch();
    const starts = [...new Set(missing.map((b) => b.start))].sort((a, b) => a - b);
    for (const run of blockRuns(starts, BLOCKS_PER_READ)) {
      const samples = yield* patientSamples(patientId, {
        start: run.start - CONTEXT_MS,
        end: run.end + CONTEXT_MS,
      });
      const byDevice = new Map<DeviceId, Array<TimelineSample>>();
      for (const s of samples) {
        const list = byDevice.get(s.deviceId) ?? [];
        list.push(s);
        byDevice.set(s.deviceId, list);
      }
      for (const b of missing) {
        if (b.start < run.start || b.start >= run.end) continue;
        const block = blockMetrics(
          columnsOf(byDevice.get(b.deviceId) ?? []),
          b.start,
          epochMs,
          scratch,
        );
        if (block) out.push({ ...block, deviceId: b.deviceId });
      }
    }
    return out;
  });

/** The epochs of the blocks starting in `[from, to)`, with non-wear from `rows` (which reach the margins). */
const epochsOf = (
  rows: ReadonlyArray<ActivityBlock>,
  blocks: ReadonlyArray<Pick<ActivityBlock, "deviceId" | "start" | "epochMs" | "epochs">>,
  from: number,
  to: number,
  cutPoints: CutPoints,
): Array<ActivityEpoch> => {
  const nonWear = new Map<DeviceId, ReadonlySet<number>>();
  for (const [deviceId, stats] of statsByDevice(rows))
    nonWear.set(deviceId, nonWearBlocks(stats, from, to));
  const epochs: Array<ActivityEpoch> = [];
  for (const b of blocks) {
    if (b.start < from || b.start >= to) continue;
    const off = nonWear.get(b.deviceId)?.has(b.start) ?? false;
    for (const e of b.epochs) epochs.push(activityEpoch(b.deviceId, b, e, off, cutPoints));
  }
  return epochs.sort(byStartThenDevice);
};

export interface ActivityPage {
  readonly epochs: ReadonlyArray<ActivityEpoch>;
  /** Opaque; null on the last page. */
  readonly nextCursor: string | null;
}

export interface ActivityQuery {
  readonly epochMs: number;
  readonly limit: number;
  readonly cursor?: string;
  readonly cutPoints: CutPoints;
}

/**
 * A page of a patient's epochs in `range` from every device, by start then
 * device: only epochs holding samples (a gap is absent, not zero). Stored
 * blocks answer it when they have this epoch length; other lengths are
 * computed from the samples.
 */
export const patientActivity = (
  patientId: PatientId,
  range: TimeRange,
  query: ActivityQuery,
): Effect.Effect<
  ActivityPage,
  EmptyTimeRange | InvalidCursor | StorageUnavailable,
  ActivityStore | SensorStore
> =>
  Effect.gen(function* () {
    if (range.end <= range.start) return yield* Effect.fail(new EmptyTimeRange(range));
    const after =
      query.cursor === undefined ? undefined : yield* decodeActivityCursor(query.cursor);
    const store = yield* ActivityStore;
    const epochs: Array<ActivityEpoch> = [];
    const end = blockStartOf(range.end - 1) + BLOCK_MS;
    let from = blockStartOf(Math.max(range.start, after?.t ?? range.start));
    // A week of 60 s epochs is one read: the span covers the page's epochs of one device.
    let spanBlocks = Math.ceil((query.limit * query.epochMs) / BLOCK_MS) + 1;
    while (from < end && epochs.length <= query.limit) {
      const to = Math.min(end, from + spanBlocks * BLOCK_MS);
      const rows = yield* store.patientBlocks(patientId, {
        start: from - NONWEAR_MARGIN_MS,
        end: to + NONWEAR_MARGIN_MS,
      });
      const inSpan = rows.filter((b) => b.start >= from && b.start < to);
      const blocks = yield* blocksAt(patientId, inSpan, query.epochMs);
      for (const e of epochsOf(rows, blocks, from, to, query.cutPoints))
        if (
          e.start >= range.start &&
          e.start < range.end &&
          (after === undefined || afterCursor(e, after))
        )
          epochs.push(e);
      from = to;
      // Nothing there (a gap in the recording): look further at once.
      if (inSpan.length === 0) spanBlocks *= 2;
    }
    const page = epochs.slice(0, query.limit);
    const last = page.at(-1);
    return {
      epochs: page,
      nextCursor: epochs.length > query.limit && last ? encodeActivityCursor(last) : null,
    };
  });

export interface DailyQuery {
  readonly first: LocalDate;
  readonly last: LocalDate;
  readonly timeZone: string;
  readonly cutPoints: CutPoints;
}

/**
 * A patient's activity per local day, `first` to `last` (inclusive), in
 * `timeZone`: wear minutes, minutes per intensity class, steps, mean ENMO,
 * coverage and the devices worn, from the stored blocks (one read).
 */
export const patientActivityDaily = (
  patientId: PatientId,
  query: DailyQuery,
): Effect.Effect<
  ReadonlyArray<DaySummary>,
  EmptyTimeRange | UnknownTimeZone | StorageUnavailable,
  ActivityStore
> =>
  Effect.gen(function* () {
    const days = yield* localDays(query.first, query.last, query.timeZone);
    const first = days[0];
    const last = days.at(-1);
    if (!first || !last)
      return yield* Effect.fail(
        new EmptyTimeRange({ start: Date.parse(query.first), end: Date.parse(query.last) }),
      );
    const from = blockStartOf(first.start);
    const to = blockStartOf(last.end - 1) + BLOCK_MS;
    const rows = yield* (yield* ActivityStore).patientBlocks(patientId, {
      start: from - NONWEAR_MARGIN_MS,
      end: to + NONWEAR_MARGIN_MS,
    });
    const epochs = epochsOf(rows, rows, from, to, query.cutPoints);
    return dailySummaries(days, epochs);
  });

export interface KeepingActivityOptions extends ActivityOptions {
  /**
   * Where the changes of the ingest's writes go instead of being refreshed at
   * once: a pass (`refreshActivity`) takes them later, so a block is computed
   * once a minute, not once a message. Re-attribution always refreshes at once.
   */
  readonly deferWrites?: (changes: ReadonlyArray<SampleChange>) => void;
}

/**
 * The sensor store keeping activity right: after a write that stored samples
 * and after every re-attribution (`replace`, whatever command moved the
 * samples: a reassignment, a backdated assignment, a correction) the blocks
 * around the samples written are refreshed for every patient, so both the
 * patient who lost samples and the one who gained them are right. `replace`
 * moves samples between items and patients and drops none, so the samples it
 * writes cover every sample it moved.
 */
export const keepingActivity = (
  sensors: SensorStoreService,
  activity: ActivityStoreService,
  options: KeepingActivityOptions,
): SensorStoreService => {
  const refresh = (changes: ReadonlyArray<SampleChange>) =>
    changes.length === 0
      ? Effect.void
      : refreshActivity(changes, options).pipe(
          Effect.provideService(SensorStore, sensors),
          Effect.provideService(ActivityStore, activity),
          Effect.asVoid,
        );
  return {
    ...sensors,
    write: (segments) =>
      Effect.gen(function* () {
        const results = yield* sensors.write(segments);
        const changes = segments
          .filter((s, i) => results[i] === "written" && s.samples.length > 0)
          .map(changeOf);
        if (options.deferWrites) options.deferWrites(changes);
        else yield* refresh(changes);
        return results;
      }),
    replace: (deviceId, remove, add) =>
      Effect.gen(function* () {
        yield* sensors.replace(deviceId, remove, add);
        yield* refresh(add.filter((s) => s.samples.length > 0).map(changeOf));
      }),
  };
};
