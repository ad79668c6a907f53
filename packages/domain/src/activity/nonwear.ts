import type { AxisStats, BlockStats } from "./block.js";
import { QUARTER_MG_PER_G } from "./block.js";
import { firstAtOrAfter, type SampleColumns } from "./columns.js";
import { BLOCK_MS } from "./settings.js";

/**
 * Non-wear, GGIR's rule (van Hees et al. 2011 and 2013; GGIR's
 * `detect_nonwear_clipping` with `nonwear_approach = "2023"` and
 * `g.weardec`'s `wearthreshold = 2`):
 *
 * - A **window** of 60 minutes starts at every block (every 15 minutes,
 *   UTC-aligned). For each axis whose standard deviation over the window is
 *   below 13 mg **and** whose range is below 50 mg, the window flags that
 *   axis in all four of its blocks.
 * - A block's **score** is the number of its axes flagged by any window over
 *   it (0–3); a block scoring 1 between two scoring 2 or more scores 2.
 * - A block holding samples and scoring **2 or more is non-wear**, and so is
 *   every epoch in it (a block without samples has no epochs to flag).
 *
 * Differences from GGIR, both for data with gaps or at 10 Hz: a window is
 * judged only when at least 30 of its 60 minutes hold samples (GGIR reads a
 * continuous file and has no gaps to judge); every sample is used (GGIR
 * 2023 thins the window to 5 Hz). Not done: GGIR's later heuristics that turn
 * short wear between non-wear into non-wear (`g.weardec`'s 6 h / 3 h rules),
 * and its auto-calibration (a still, miscalibrated device may read a few mg
 * of ENMO).
 *
 * The rule reads only sums, squares, minima, maxima and minute masks per
 * block (`BlockStats`), in whole quarter-mg, so the stored blocks give
 * exactly what the raw samples give.
 */
export const NONWEAR_WINDOW_BLOCKS = 4;
export const NONWEAR_SD_LIMIT_MG = 13;
export const NONWEAR_RANGE_LIMIT_MG = 50;
export const NONWEAR_MIN_MINUTES = 30;
export const NONWEAR_AXES = 2;

const SD_LIMIT = NONWEAR_SD_LIMIT_MG * (QUARTER_MG_PER_G / 1000); // 52 quarter-mg
const VARIANCE_LIMIT = SD_LIMIT * SD_LIMIT;
const RANGE_LIMIT = NONWEAR_RANGE_LIMIT_MG * (QUARTER_MG_PER_G / 1000); // 200 quarter-mg

/**
 * An axis over a window: whether both its (sample) standard deviation and its
 * range are under the limits. `sum` and `squares` are whole numbers under
 * 2^53. SD < limit ⇔ nΣq² − (Σq)² < limit² · n(n−1): decided in floating
 * point when the two sides are apart by more than its rounding, else in
 * whole numbers (BigInt), so the answer is always the exact one.
 */
const still = (n: number, sum: number, squares: number, min: number, max: number): boolean => {
  if (n < 2 || max - min >= RANGE_LIMIT) return false;
  const lhs = n * squares - sum * sum;
  const rhs = VARIANCE_LIMIT * n * (n - 1);
  const margin = 8 * Number.EPSILON * (n * squares + sum * sum + rhs) + 8;
  if (lhs < rhs - margin) return true;
  if (lhs > rhs + margin) return false;
  const N = BigInt(n);
  const S = BigInt(sum);
  return N * BigInt(squares) - S * S < BigInt(VARIANCE_LIMIT) * N * (N - 1n);
};

const popcount = (bits: number): number => {
  let v = bits;
  let c = 0;
  while (v) {
    v &= v - 1;
    c++;
  }
  return c;
};

interface WindowAxis {
  sum: number;
  squares: number;
  min: number;
  max: number;
}
const emptyAxis = (): WindowAxis => ({
  sum: 0,
  squares: 0,
  min: Number.POSITIVE_INFINITY,
  max: Number.NEGATIVE_INFINITY,
});
const addAxis = (w: WindowAxis, a: AxisStats) => {
  w.sum += a.sum;
  w.squares += a.squares;
  if (a.min < w.min) w.min = a.min;
  if (a.max > w.max) w.max = a.max;
};

/** Which axes (bits 0–2: x, y, z) a window flags, from its blocks' statistics; 0 when it is not judged. */
const windowFlags = (blocks: ReadonlyArray<BlockStats | undefined>): number => {
  let n = 0;
  let minutes = 0;
  const axes = [emptyAxis(), emptyAxis(), emptyAxis()] as const;
  for (const b of blocks) {
    if (!b) continue;
    n += b.samples;
    minutes += popcount(b.minutes);
    addAxis(axes[0], b.x);
    addAxis(axes[1], b.y);
    addAxis(axes[2], b.z);
  }
  if (minutes < NONWEAR_MIN_MINUTES) return 0;
  let flags = 0;
  axes.forEach((a, k) => {
    if (still(n, a.sum, a.squares, a.min, a.max)) flags |= 1 << k;
  });
  return flags;
};

/**
 * Scores per block from window flags: `flagsAt(w)` gives the flags of the
 * window starting at block w; `holds(b)` whether block b holds samples.
 */
const scoresAndVerdicts = (
  from: number,
  to: number,
  flagsAt: (windowStart: number) => number,
  holds: (block: number) => boolean,
): ReadonlySet<number> => {
  const windows = new Map<number, number>();
  const flags = (w: number) => {
    let f = windows.get(w);
    if (f === undefined) {
      f = flagsAt(w);
      windows.set(w, f);
    }
    return f;
  };
  const score = (b: number) => {
    let axes = 0;
    for (let k = 0; k < NONWEAR_WINDOW_BLOCKS; k++) axes |= flags(b - k * BLOCK_MS);
    return popcount(axes);
  };
  const nonWear = new Set<number>();
  for (let b = from; b < to; b += BLOCK_MS) {
    if (!holds(b)) continue;
    let s = score(b);
    if (s === 1 && score(b - BLOCK_MS) > 1 && score(b + BLOCK_MS) > 1) s = 2;
    if (s >= NONWEAR_AXES) nonWear.add(b);
  }
  return nonWear;
};

/**
 * The blocks in `[from, to)` (multiples of `BLOCK_MS`) that are non-wear,
 * from the block statistics of one device for one patient (by block start).
 * Needs the statistics of the four blocks before and after the range.
 */
export const nonWearBlocks = (
  stats: ReadonlyMap<number, BlockStats>,
  from: number,
  to: number,
): ReadonlySet<number> =>
  scoresAndVerdicts(
    from,
    to,
    (w) =>
      windowFlags(
        Array.from({ length: NONWEAR_WINDOW_BLOCKS }, (_, k) => stats.get(w + k * BLOCK_MS)),
      ),
    (b) => (stats.get(b)?.samples ?? 0) > 0,
  );

/**
 * The same rule straight from the samples (each window's sums taken over its
 * samples): what `nonWearBlocks` must agree with, exactly.
 */
export const nonWearFromSamples = (
  c: SampleColumns,
  from: number,
  to: number,
): ReadonlySet<number> =>
  scoresAndVerdicts(
    from,
    to,
    (w) => {
      const end = w + NONWEAR_WINDOW_BLOCKS * BLOCK_MS;
      const a = firstAtOrAfter(c.t, c.length, w);
      const b = firstAtOrAfter(c.t, c.length, end);
      const minutes = new Set<number>();
      // Plain numbers are exact here: a window's sums stay far under 2^53 at the rates in use.
      const sum = [0, 0, 0];
      const squares = [0, 0, 0];
      const min = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
      const max = [Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY];
      const columns = [c.x, c.y, c.z] as const;
      for (let i = a; i < b; i++) {
        minutes.add(Math.floor((c.t[i] as number) / 60_000));
        for (let k = 0; k < 3; k++) {
          const q = Math.round(((columns[k] as Float64Array)[i] as number) * QUARTER_MG_PER_G);
          sum[k] = (sum[k] as number) + q;
          squares[k] = (squares[k] as number) + q * q;
          if (q < (min[k] as number)) min[k] = q;
          if (q > (max[k] as number)) max[k] = q;
        }
      }
      if (minutes.size < NONWEAR_MIN_MINUTES) return 0;
      let flags = 0;
      for (let k = 0; k < 3; k++)
        if (
          still(b - a, sum[k] as number, squares[k] as number, min[k] as number, max[k] as number)
        )
          flags |= 1 << k;
      return flags;
    },
    (b) => firstAtOrAfter(c.t, c.length, b) < firstAtOrAfter(c.t, c.length, b + BLOCK_MS),
  );
