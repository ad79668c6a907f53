import type { DeviceId, TimelineSample } from "@medusa/domain";
import type * as fhir4 from "fhir/r4.js";
import { G_UNIT } from "./codes.js";

/** The most samples one Observation holds: 100 s at 10 Hz, 3,000 data points. */
export const MAX_SAMPLES_PER_OBSERVATION = 1_000;

/**
 * The longest step between two samples of one run: the period of the slowest
 * rate the device agent supports (1 Hz). A longer step is a gap.
 */
export const MAX_PERIOD_MS = 1_000;

/** The step a one-sample run states (its one point is at the start whatever the period). */
export const SINGLE_SAMPLE_PERIOD_MS = 100;

/** The ADXL345's step in full resolution: 3.9 mg a count. */
export const ADXL345_G_PER_LSB = 0.0039;

/**
 * One device's samples at one constant step (`period`, whole milliseconds):
 * sample `i` was taken at `start + i × period`.
 */
export interface SampleRun {
  readonly deviceId: DeviceId;
  readonly period: number;
  readonly samples: ReadonlyArray<TimelineSample>;
  /** Where its first sample is in the page it was cut from. */
  readonly firstIndex: number;
}

/**
 * The runs of a page of a patient's timeline, in the order their first
 * samples appear in it. A run is one device's samples, each exactly `period`
 * after the one before (the step of its first two samples, 1 ms to
 * `MAX_PERIOD_MS`), at most `MAX_SAMPLES_PER_OBSERVATION` of them. So a gap, a
 * changed rate, a repeated or out-of-order time, or the cap starts a new run.
 * The timeline gives each device's samples in time order, with other devices'
 * interleaved item by item; runs follow each device through that.
 */
export const runsOf = (
  samples: ReadonlyArray<TimelineSample>,
  maxPerRun = MAX_SAMPLES_PER_OBSERVATION,
): ReadonlyArray<SampleRun> => {
  type Open = {
    deviceId: DeviceId;
    period: number;
    samples: Array<TimelineSample>;
    firstIndex: number;
  };
  const runs: Array<Open> = [];
  const open = new Map<DeviceId, Open>();
  samples.forEach((s, index) => {
    const run = open.get(s.deviceId);
    const last = run?.samples.at(-1);
    if (run && last && run.samples.length < maxPerRun) {
      const step = s.timestamp - last.timestamp;
      if (run.samples.length === 1 && step >= 1 && step <= MAX_PERIOD_MS) {
        run.period = step;
        run.samples.push(s);
        return;
      }
      if (run.samples.length > 1 && step === run.period) {
        run.samples.push(s);
        return;
      }
    }
    const next: Open = {
      deviceId: s.deviceId,
      period: SINGLE_SAMPLE_PERIOD_MS,
      samples: [s],
      firstIndex: index,
    };
    runs.push(next);
    open.set(s.deviceId, next);
  });
  return runs;
};

/** Whether `v` is a whole number of the ADXL345's steps, computed as the device computes it. */
const isAdxlStep = (v: number): boolean => {
  const k = Math.round(v / ADXL345_G_PER_LSB);
  return Number.isSafeInteger(k) && k * ADXL345_G_PER_LSB === v;
};

/**
 * A run's x, y and z as one SampledData with `dimensions` 3, interleaved
 * (`x0 y0 z0 x1 y1 z1 …`), in g, origin 0. Exact either way:
 *
 * - when every value is a whole number of the ADXL345's 3.9 mg steps (what
 *   the sensor reports in full resolution), `factor` 0.0039 and the data are
 *   the whole counts: `origin + factor × count`, in IEEE double arithmetic,
 *   is the stored value bit for bit (the device computed it so);
 * - otherwise no factor (1), and each value as the shortest decimal that
 *   reads back as the same double: exact in decimal and in double arithmetic.
 *
 * Zero carries no sign (−0 g is written 0).
 */
export const sampledDataOf = (run: SampleRun): fhir4.SampledData => {
  const values: Array<number> = [];
  for (const s of run.samples) values.push(s.x, s.y, s.z);
  const counts = values.every(isAdxlStep);
  const data = counts
    ? values.map((v) => String(Math.round(v / ADXL345_G_PER_LSB) || 0))
    : values.map((v) => String(v));
  return {
    origin: { value: 0, ...G_UNIT },
    period: run.period,
    ...(counts ? { factor: ADXL345_G_PER_LSB } : {}),
    dimensions: 3,
    data: data.join(" "),
  };
};

/**
 * What a consumer reads from a SampledData of three dimensions: each time
 * point's offset from the start (ms) and its x, y, z in the origin's unit,
 * as `origin + factor × value`. Throws on the markers `E`, `L`, `U` (this
 * export writes none) and on data that is not whole time points.
 */
export const decodeSampledData = (
  sd: fhir4.SampledData,
): ReadonlyArray<{
  readonly offsetMs: number;
  readonly x: number;
  readonly y: number;
  readonly z: number;
}> => {
  const origin = sd.origin.value ?? 0;
  const factor = sd.factor ?? 1;
  const points = (sd.data ?? "").split(" ").filter((p) => p !== "");
  if (points.length % sd.dimensions !== 0 || sd.dimensions !== 3)
    throw new RangeError(`${points.length} values are not whole points of 3 dimensions`);
  const value = (p: string) => {
    if (!/^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/.test(p))
      throw new RangeError(`not a decimal: ${p}`);
    return origin + factor * Number(p);
  };
  const out: Array<{ offsetMs: number; x: number; y: number; z: number }> = [];
  for (let i = 0; i < points.length; i += 3)
    out.push({
      offsetMs: (i / 3) * sd.period,
      x: value(points[i] as string),
      y: value(points[i + 1] as string),
      z: value(points[i + 2] as string),
    });
  return out;
};
