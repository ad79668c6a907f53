/**
 * Steps from the acceleration magnitude of one device, at 10 Hz or faster.
 *
 * Walking shows in the magnitude ‖a‖ as one peak per step (heel strike) at
 * the step frequency, 1–3 Hz (60–180 steps/min), well under the 5 Hz Nyquist
 * limit of 10 Hz sampling. The detector follows the peak-plus-constraints
 * family of Gu et al. 2017 (IEEE Sensors J 17(18):5848, the algorithm behind
 * Verisense's and GGIR's step counts: peaks, then periodicity, similarity and
 * continuity):
 *
 * 1. **Signal**: `s = mean(‖a‖ over ±50 ms) − mean(‖a‖ over ±1 s)`, the
 *    magnitude without gravity and slow trends (at 10 Hz the first mean is
 *    the sample itself). Magnitudes are whole µg, so the windows' running
 *    sums are exact and `s` never depends on where the recording began.
 * 2. **Lobes**: maximal runs of samples with `s > 0` and no gap over 400 ms.
 *    A lobe is a *candidate* when its peak reaches 0.1 g and it lasts at most
 *    1.5 s (a step's push is shorter; a slow sway is not a step). One lobe,
 *    one candidate: a heel strike's double bump above zero counts once. The
 *    peak's time is interpolated between samples (a parabola through the
 *    highest sample and its neighbours).
 * 3. **Links**: two successive candidates are linked when no gap lies between
 *    them, they are 250 ms to 2 s apart (30–240 steps/min) and their peaks
 *    differ by at most a factor 2.5.
 * 4. **Bouts**: a candidate is a step when it is one of four successive
 *    candidates joined by three links whose intervals differ by at most a
 *    factor 1.3. Walking is regular; a bump in a car (a decaying bounce), a
 *    knock on a table or road noise is not.
 *
 * Each decision reads the samples within about 9 s of the peak (three links
 * of at most 2 s, lobes of at most 1.5 s, the 1 s trend): `CONTEXT_MS`.
 *
 * Limits: shuffling with peaks under 0.1 g is not counted; a bout of fewer
 * than four steps is not counted; a regular, vertical, step-like motion that
 * is not walking (hopping, a rocking chair at walking pace and force) is
 * counted; an ADXL345 at 10 Hz low-passes at 5 Hz, so running faster than
 * about 240 steps/min is not resolved.
 */

export const STEP_SMOOTH_HALF_MS = 50;
export const STEP_TREND_HALF_MS = 1_000;
export const STEP_MAX_GAP_MS = 400;
export const STEP_PEAK_MIN_UG = 100_000;
export const STEP_MAX_LOBE_MS = 1_500;
export const STEP_MIN_INTERVAL_MS = 250;
export const STEP_MAX_INTERVAL_MS = 2_000;
export const STEP_MAX_PEAK_RATIO = 2.5;
export const STEP_MAX_INTERVAL_RATIO = 1.3;
/** Candidates in a bout. */
export const STEP_BOUT = 4;

/** Reusable buffers, so that a long recording's blocks allocate once. */
export class StepScratch {
  s = new Float64Array(0);
  peakAt = new Int32Array(0);
  peakTime = new Float64Array(0);
  peakHeight = new Float64Array(0);
  peakRun = new Int32Array(0);
  step = new Uint8Array(0);
  /** Where callers may have the steps written (`detectSteps`' `out`). */
  found = new Int32Array(0);

  ensure(n: number): void {
    if (this.s.length >= n) return;
    const size = Math.max(n, this.s.length * 2, 64);
    this.s = new Float64Array(size);
    this.peakAt = new Int32Array(size);
    this.peakTime = new Float64Array(size);
    this.peakHeight = new Float64Array(size);
    this.peakRun = new Int32Array(size);
    this.step = new Uint8Array(size);
    this.found = new Int32Array(size);
  }
}

/**
 * A peak's time between samples: the vertex of the parabola through the peak
 * and its neighbours. At 10 Hz a step of 160/min lasts 3.75 samples, and peak
 * times rounded to whole samples would make steady walking look irregular
 * (intervals of 300 and 400 ms).
 */
const peakTimeOf = (t: Float64Array, s: Float64Array, n: number, i: number): number => {
  const ti = t[i] as number;
  if (i === 0 || i + 1 >= n) return ti;
  const before = ti - (t[i - 1] as number);
  const after = (t[i + 1] as number) - ti;
  if (before !== after || before > STEP_MAX_GAP_MS) return ti;
  const a = s[i - 1] as number;
  const b = s[i] as number;
  const c = s[i + 1] as number;
  const curvature = a - 2 * b + c;
  if (curvature >= 0) return ti;
  return ti + (0.5 * (a - c) * before) / curvature;
};

/**
 * The steps in samples `0 … n−1` (times `t`, ms, ascending; magnitudes
 * `magnitudeUg`, whole µg): writes the sample index of each step's peak into
 * `out`, in order, and returns how many.
 */
export const detectSteps = (
  t: Float64Array,
  magnitudeUg: Float64Array,
  n: number,
  out: Int32Array,
  scratch: StepScratch = new StepScratch(),
): number => {
  if (n === 0) return 0;
  scratch.ensure(n);
  const { s, peakAt, peakTime, peakHeight, peakRun, step } = scratch;

  // 1. s = short mean − trend, with running sums of whole µg (exact).
  let sLo = 0;
  let sHi = 0;
  let sSum = 0;
  let tLo = 0;
  let tHi = 0;
  let tSum = 0;
  for (let i = 0; i < n; i++) {
    const ti = t[i] as number;
    while (sHi < n && (t[sHi] as number) <= ti + STEP_SMOOTH_HALF_MS)
      sSum += magnitudeUg[sHi++] as number;
    while ((t[sLo] as number) < ti - STEP_SMOOTH_HALF_MS) sSum -= magnitudeUg[sLo++] as number;
    while (tHi < n && (t[tHi] as number) <= ti + STEP_TREND_HALF_MS)
      tSum += magnitudeUg[tHi++] as number;
    while ((t[tLo] as number) < ti - STEP_TREND_HALF_MS) tSum -= magnitudeUg[tLo++] as number;
    s[i] = sSum / (sHi - sLo) - tSum / (tHi - tLo);
  }

  // 2. Lobes and their peaks; `run` counts the gaps before a peak.
  let peaks = 0;
  let run = 0;
  let lobeStart = -1;
  let best = -1;
  const closeLobe = (last: number) => {
    if (
      lobeStart >= 0 &&
      (s[best] as number) >= STEP_PEAK_MIN_UG &&
      (t[last] as number) - (t[lobeStart] as number) <= STEP_MAX_LOBE_MS
    ) {
      peakAt[peaks] = best;
      peakTime[peaks] = peakTimeOf(t, s, n, best);
      peakHeight[peaks] = s[best] as number;
      peakRun[peaks] = run;
      peaks++;
    }
    lobeStart = -1;
  };
  for (let i = 0; i < n; i++) {
    if (i > 0 && (t[i] as number) - (t[i - 1] as number) > STEP_MAX_GAP_MS) {
      closeLobe(i - 1);
      run++;
    }
    const si = s[i] as number;
    if (si > 0) {
      if (lobeStart < 0) {
        lobeStart = i;
        best = i;
      } else if (si > (s[best] as number)) best = i;
    } else if (lobeStart >= 0) closeLobe(i - 1);
  }
  if (lobeStart >= 0) closeLobe(n - 1);

  // 3–4. Links and bouts of four regular candidates.
  const linked = (k: number): boolean => {
    if (k < 0 || k + 1 >= peaks || peakRun[k] !== peakRun[k + 1]) return false;
    const dt = (peakTime[k + 1] as number) - (peakTime[k] as number);
    if (dt < STEP_MIN_INTERVAL_MS || dt > STEP_MAX_INTERVAL_MS) return false;
    const a = peakHeight[k] as number;
    const b = peakHeight[k + 1] as number;
    return Math.max(a, b) <= STEP_MAX_PEAK_RATIO * Math.min(a, b);
  };
  step.fill(0, 0, peaks);
  for (let j = 0; j + STEP_BOUT - 1 < peaks; j++) {
    let regular = true;
    let shortest = Number.POSITIVE_INFINITY;
    let longest = 0;
    for (let k = j; k < j + STEP_BOUT - 1 && regular; k++) {
      if (!linked(k)) regular = false;
      else {
        const dt = (peakTime[k + 1] as number) - (peakTime[k] as number);
        if (dt < shortest) shortest = dt;
        if (dt > longest) longest = dt;
      }
    }
    if (regular && longest <= STEP_MAX_INTERVAL_RATIO * shortest)
      for (let k = j; k < j + STEP_BOUT; k++) step[k] = 1;
  }
  let count = 0;
  for (let k = 0; k < peaks; k++) if (step[k] === 1) out[count++] = peakAt[k] as number;
  return count;
};
