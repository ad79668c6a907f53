import { columnsWithin, firstAtOrAfter, type SampleColumns } from "./columns.js";
import { BLOCK_MS, CONTEXT_MS, NOMINAL_INTERVAL_MS } from "./settings.js";
import { detectSteps, StepScratch } from "./steps.js";

/**
 * One epoch's metrics, as stored. Sums and whole numbers only, so that what
 * is derived from them (means, coverage, day totals) comes out the same
 * wherever it is computed.
 */
export interface EpochMetrics {
  /** Position in its block: the epoch starts at `block.start + index × epochMs`. */
  readonly index: number;
  /** Samples present. */
  readonly samples: number;
  /** Samples expected at the device's rate (`epochMs` / the block's median sampling interval). */
  readonly expected: number;
  /** Σ ENMO of the samples, in µg (ENMO = max(0, ‖a‖ − 1 g), ‖a‖ rounded to 1 µg). */
  readonly enmo: number;
  /** MAD, in µg (rounded): the mean of |‖a‖ − the epoch's mean ‖a‖|. */
  readonly mad: number;
  /** Steps whose peak lies in the epoch. */
  readonly steps: number;
}

/**
 * One axis over a block, in whole quarter-milli-g (`round(4000 × a)`): what
 * the non-wear rule needs of it, summable over blocks exactly. A block of
 * 400 Hz at full scale sums squares to 1.5 × 10^15, four blocks under 2^53.
 */
export interface AxisStats {
  readonly sum: number;
  readonly squares: number;
  readonly min: number;
  readonly max: number;
}

export interface BlockStats {
  readonly samples: number;
  /** Bit m set: minute m of the block (0–14) holds samples. */
  readonly minutes: number;
  readonly x: AxisStats;
  readonly y: AxisStats;
  readonly z: AxisStats;
}

/** A block's metrics: the epochs that hold samples, in order, and the block's axis statistics. */
export interface BlockMetrics {
  readonly start: number;
  readonly epochMs: number;
  readonly epochs: ReadonlyArray<EpochMetrics>;
  readonly stats: BlockStats;
}

/** The start of the block holding time `t`. */
export const blockStartOf = (t: number): number => Math.floor(t / BLOCK_MS) * BLOCK_MS;

/** Quarter-milli-g per g: the unit of `AxisStats`. */
export const QUARTER_MG_PER_G = 4_000;
const UG_PER_G = 1_000_000;

/** Buffers one computation reuses across blocks. */
export class MetricsScratch {
  readonly steps = new StepScratch();
  magnitude = new Float64Array(0);
  intervals = new Float64Array(0);

  ensure(n: number): void {
    this.steps.ensure(n);
    if (this.magnitude.length >= n) return;
    const size = Math.max(n, this.magnitude.length * 2, 64);
    this.magnitude = new Float64Array(size);
    this.intervals = new Float64Array(size);
  }
}

/** The lower median of `a[0 … n−1]` (reorders it): quickselect. */
const lowerMedian = (a: Float64Array, n: number): number => {
  const k = (n - 1) >> 1;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >>> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((a[i] as number) < pivot) i++;
      while ((a[j] as number) > pivot) j--;
      if (i <= j) {
        const tmp = a[i] as number;
        a[i] = a[j] as number;
        a[j] = tmp;
        i++;
        j--;
      }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k] as number;
};

const newAxis = () => ({
  sum: 0,
  squares: 0,
  min: Number.POSITIVE_INFINITY,
  max: Number.NEGATIVE_INFINITY,
});

/**
 * The metrics of the block starting at `blockStart` (a multiple of
 * `BLOCK_MS`), from one device's samples attributed to one patient; null when
 * the block holds none of them. Defined by the samples within `CONTEXT_MS` of
 * the block: `columns` may hold more (a whole recording), the answer is the
 * same.
 */
export const blockMetrics = (
  columns: SampleColumns,
  blockStart: number,
  epochMs: number,
  scratch: MetricsScratch = new MetricsScratch(),
): BlockMetrics | null => {
  const end = blockStart + BLOCK_MS;
  const w = columnsWithin(columns, blockStart - CONTEXT_MS, end + CONTEXT_MS);
  const n = w.length;
  const first = firstAtOrAfter(w.t, n, blockStart);
  const last = firstAtOrAfter(w.t, n, end);
  if (first === last) return null;
  scratch.ensure(n);
  const { t, x, y, z } = w;
  const m = scratch.magnitude;
  for (let i = 0; i < n; i++) {
    const xi = x[i] as number;
    const yi = y[i] as number;
    const zi = z[i] as number;
    m[i] = Math.round(Math.sqrt(xi * xi + yi * yi + zi * zi) * UG_PER_G);
  }

  // The device's sampling interval: the median of the intervals around the block.
  let intervals = 0;
  for (let i = 1; i < n; i++) {
    const dt = (t[i] as number) - (t[i - 1] as number);
    if (dt > 0) scratch.intervals[intervals++] = dt;
  }
  const interval = intervals > 0 ? lowerMedian(scratch.intervals, intervals) : NOMINAL_INTERVAL_MS;
  const expected = Math.max(1, Math.round(epochMs / interval));

  const found = scratch.steps.found;
  const stepCount = detectSteps(t, m, n, found, scratch.steps);

  const epochs: Array<EpochMetrics> = [];
  const ax = newAxis();
  const ay = newAxis();
  const az = newAxis();
  let minutes = 0;
  let step = 0;
  while (step < stepCount && (found[step] as number) < first) step++;
  let i = first;
  while (i < last) {
    const index = Math.floor(((t[i] as number) - blockStart) / epochMs);
    const epochEnd = blockStart + (index + 1) * epochMs;
    const from = i;
    let enmo = 0;
    let sum = 0;
    for (; i < last && (t[i] as number) < epochEnd; i++) {
      const mi = m[i] as number;
      if (mi > UG_PER_G) enmo += mi - UG_PER_G;
      sum += mi;
      const qx = Math.round((x[i] as number) * QUARTER_MG_PER_G);
      const qy = Math.round((y[i] as number) * QUARTER_MG_PER_G);
      const qz = Math.round((z[i] as number) * QUARTER_MG_PER_G);
      ax.sum += qx;
      ax.squares += qx * qx;
      if (qx < ax.min) ax.min = qx;
      if (qx > ax.max) ax.max = qx;
      ay.sum += qy;
      ay.squares += qy * qy;
      if (qy < ay.min) ay.min = qy;
      if (qy > ay.max) ay.max = qy;
      az.sum += qz;
      az.squares += qz * qz;
      if (qz < az.min) az.min = qz;
      if (qz > az.max) az.max = qz;
      minutes |= 1 << Math.floor(((t[i] as number) - blockStart) / 60_000);
    }
    const count = i - from;
    const mean = sum / count;
    let deviation = 0;
    for (let j = from; j < i; j++) deviation += Math.abs((m[j] as number) - mean);
    let steps = 0;
    while (step < stepCount && (found[step] as number) < i) {
      steps++;
      step++;
    }
    epochs.push({
      index,
      samples: count,
      expected,
      enmo,
      mad: Math.round(deviation / count),
      steps,
    });
  }
  // -0 is not a whole number's sign: stored stats compare equal to recomputed ones.
  const axis = (a: ReturnType<typeof newAxis>): AxisStats => ({
    sum: a.sum + 0,
    squares: a.squares,
    min: a.min + 0,
    max: a.max + 0,
  });
  return {
    start: blockStart,
    epochMs,
    epochs,
    stats: {
      samples: last - first,
      minutes,
      x: axis(ax),
      y: axis(ay),
      z: axis(az),
    },
  };
};

/**
 * Every block's metrics over a recording of one device for one patient
 * (blocks holding samples, in order); each block as `blockMetrics` defines it.
 */
export const metricsOf = (
  columns: SampleColumns,
  epochMs: number,
  scratch: MetricsScratch = new MetricsScratch(),
): ReadonlyArray<BlockMetrics> => {
  const out: Array<BlockMetrics> = [];
  let i = 0;
  while (i < columns.length) {
    const start = blockStartOf(columns.t[i] as number);
    const block = blockMetrics(columns, start, epochMs, scratch);
    if (block) out.push(block);
    i = firstAtOrAfter(columns.t, columns.length, start + BLOCK_MS);
  }
  return out;
};
