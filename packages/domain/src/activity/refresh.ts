import type { Segment } from "../enrichment.js";
import { UNASSIGNED } from "../enrichment.js";
import type { DeviceId, PatientId } from "../ids.js";
import type { TimeRange } from "../ports/storage.js";
import type { Sample } from "../sample.js";
import { type BlockMetrics, blockMetrics, blockStartOf, MetricsScratch } from "./block.js";
import { columnsOf } from "./columns.js";
import { BLOCK_MS, CONTEXT_MS } from "./settings.js";

/**
 * A block of one patient's activity on one device, as stored: one row per
 * patient, device and block. Always what `blockMetrics` gives for the
 * samples of that device attributed to that patient now (once the refresh
 * that follows a change has run).
 */
export interface ActivityBlock extends BlockMetrics {
  readonly deviceId: DeviceId;
  readonly patientId: PatientId;
  /** Expiry for DynamoDB TTL, epoch SECONDS: the retention after the block's end, as its samples. */
  readonly ttl: number;
}

/** Samples of a device changed (written, re-attributed, removed) somewhere in `[start, end)`. */
export interface SampleChange extends TimeRange {
  readonly deviceId: DeviceId;
}

/** Where a segment's samples lie: `[earliest, latest + 1)`. */
export const changeOf = (segment: Pick<Segment, "deviceId" | "samples">): SampleChange => {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const s of segment.samples) {
    if (s.timestamp < start) start = s.timestamp;
    if (s.timestamp + 1 > end) end = s.timestamp + 1;
  }
  return { deviceId: segment.deviceId, start, end };
};

/**
 * The blocks whose metrics samples changed in `ranges` can change: every
 * block within `CONTEXT_MS` of a range. Sorted, each once.
 */
export const blocksAffected = (ranges: ReadonlyArray<TimeRange>): ReadonlyArray<number> => {
  const blocks = new Set<number>();
  for (const r of ranges) {
    if (!(r.end > r.start)) continue;
    const last = blockStartOf(r.end - 1 + CONTEXT_MS);
    for (let b = blockStartOf(r.start - CONTEXT_MS); b <= last; b += BLOCK_MS) blocks.add(b);
  }
  return [...blocks].sort((a, b) => a - b);
};

/** Runs of consecutive blocks, each at most `maxBlocks` long: `[start, end)` of block starts. */
export const blockRuns = (
  blocks: ReadonlyArray<number>,
  maxBlocks: number,
): ReadonlyArray<TimeRange> => {
  const runs: Array<{ start: number; end: number }> = [];
  for (const b of blocks) {
    const last = runs.at(-1);
    if (last && last.end === b && (last.end - last.start) / BLOCK_MS < maxBlocks)
      last.end = b + BLOCK_MS;
    else runs.push({ start: b, end: b + BLOCK_MS });
  }
  return runs;
};

export interface ActivityOptions {
  readonly epochMs: number;
  readonly retentionMs: number;
}

/**
 * The activity blocks `blockStarts` of one device, from its stored segments
 * (which must hold every sample within `CONTEXT_MS` of those blocks): a
 * block per patient whose samples lie in it. Samples nobody wore make none.
 */
export const activityBlocksOf = (
  deviceId: DeviceId,
  segments: ReadonlyArray<Segment>,
  blockStarts: ReadonlyArray<number>,
  options: ActivityOptions,
): ReadonlyArray<ActivityBlock> => {
  const byPatient = new Map<PatientId, Array<Sample>>();
  for (const s of segments) {
    if (s.patientId === UNASSIGNED) continue;
    let samples = byPatient.get(s.patientId);
    if (!samples) {
      samples = [];
      byPatient.set(s.patientId, samples);
    }
    for (const x of s.samples) samples.push(x);
  }
  const scratch = new MetricsScratch();
  const out: Array<ActivityBlock> = [];
  for (const [patientId, samples] of [...byPatient].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const columns = columnsOf(samples);
    for (const start of blockStarts) {
      const block = blockMetrics(columns, start, options.epochMs, scratch);
      if (block)
        out.push({
          ...block,
          deviceId,
          patientId,
          ttl: Math.ceil((start + BLOCK_MS + options.retentionMs) / 1000),
        });
    }
  }
  return out;
};

/** Whether two blocks hold the same metrics. */
export const sameMetrics = (a: BlockMetrics, b: BlockMetrics): boolean => {
  if (a.start !== b.start || a.epochMs !== b.epochMs || a.epochs.length !== b.epochs.length)
    return false;
  const sa = a.stats;
  const sb = b.stats;
  if (sa.samples !== sb.samples || sa.minutes !== sb.minutes) return false;
  for (const k of ["x", "y", "z"] as const) {
    const p = sa[k];
    const q = sb[k];
    if (p.sum !== q.sum || p.squares !== q.squares || p.min !== q.min || p.max !== q.max)
      return false;
  }
  return a.epochs.every((e, i) => {
    const f = b.epochs[i];
    return (
      f !== undefined &&
      e.index === f.index &&
      e.samples === f.samples &&
      e.expected === f.expected &&
      e.enmo === f.enmo &&
      e.mad === f.mad &&
      e.steps === f.steps
    );
  });
};

/** A stored block's identity within its device. */
export interface ActivityBlockKey {
  readonly patientId: PatientId;
  readonly start: number;
}

/** What a refresh writes: blocks that changed, and blocks whose patient has no samples there any more. */
export interface ActivityPlan {
  readonly put: ReadonlyArray<ActivityBlock>;
  readonly remove: ReadonlyArray<ActivityBlockKey>;
  readonly unchanged: number;
}

const keyOf = (b: ActivityBlockKey) => `${b.start}\u0000${b.patientId}`;

/**
 * From the blocks stored for a device's affected blocks and the blocks its
 * samples give now: only what differs is written, so a refresh that finds
 * nothing new (a duplicate delivery, a second pass) writes nothing.
 */
export const activityPlan = (
  stored: ReadonlyArray<ActivityBlock>,
  computed: ReadonlyArray<ActivityBlock>,
): ActivityPlan => {
  const before = new Map(stored.map((b) => [keyOf(b), b]));
  const put: Array<ActivityBlock> = [];
  let unchanged = 0;
  for (const b of computed) {
    const old = before.get(keyOf(b));
    before.delete(keyOf(b));
    if (old && sameMetrics(old, b)) unchanged++;
    else put.push(b);
  }
  return {
    put,
    remove: [...before.values()].map((b) => ({ patientId: b.patientId, start: b.start })),
    unchanged,
  };
};
