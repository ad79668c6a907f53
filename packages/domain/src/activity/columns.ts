import type { Sample } from "../sample.js";

/**
 * One device's samples as columns, ordered by time (then sequence number):
 * what the metrics read. Typed arrays, so the metrics' loops allocate nothing
 * per sample and a block is a view (`subarray`) of a longer recording.
 */
export interface SampleColumns {
  readonly length: number;
  /** Epoch milliseconds. */
  readonly t: Float64Array;
  /** Acceleration in g. */
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly z: Float64Array;
}

export const emptyColumns: SampleColumns = {
  length: 0,
  t: new Float64Array(0),
  x: new Float64Array(0),
  y: new Float64Array(0),
  z: new Float64Array(0),
};

type Reading = Pick<Sample, "timestamp" | "sequence" | "x" | "y" | "z">;

/**
 * Samples as columns: ordered by time, then sequence number; a sample stored
 * twice (the same time and sequence number) counts once.
 */
export const columnsOf = (samples: ReadonlyArray<Reading>): SampleColumns => {
  let ordered = true;
  for (let i = 1; i < samples.length && ordered; i++) {
    const a = samples[i - 1] as Reading;
    const b = samples[i] as Reading;
    if (a.timestamp > b.timestamp || (a.timestamp === b.timestamp && a.sequence >= b.sequence))
      ordered = false;
  }
  const sorted = ordered
    ? samples
    : [...samples].sort((a, b) => a.timestamp - b.timestamp || a.sequence - b.sequence);
  const n = sorted.length;
  const t = new Float64Array(n);
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  const z = new Float64Array(n);
  let k = 0;
  let last: Reading | undefined;
  for (const s of sorted) {
    if (last && last.timestamp === s.timestamp && last.sequence === s.sequence) continue;
    t[k] = s.timestamp;
    x[k] = s.x;
    y[k] = s.y;
    z[k] = s.z;
    k++;
    last = s;
  }
  return k === n
    ? { length: n, t, x, y, z }
    : {
        length: k,
        t: t.subarray(0, k),
        x: x.subarray(0, k),
        y: y.subarray(0, k),
        z: z.subarray(0, k),
      };
};

/** The first index whose time is at or after `time` (binary search). */
export const firstAtOrAfter = (t: Float64Array, length: number, time: number): number => {
  let lo = 0;
  let hi = length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((t[mid] as number) < time) lo = mid + 1;
    else hi = mid;
  }
  return lo;
};

/** The samples with times in `[start, end)`: views, no copy. */
export const columnsWithin = (c: SampleColumns, start: number, end: number): SampleColumns => {
  const a = firstAtOrAfter(c.t, c.length, start);
  const b = firstAtOrAfter(c.t, c.length, end);
  if (a === 0 && b === c.length) return c;
  return {
    length: b - a,
    t: c.t.subarray(a, b),
    x: c.x.subarray(a, b),
    y: c.y.subarray(a, b),
    z: c.z.subarray(a, b),
  };
};
