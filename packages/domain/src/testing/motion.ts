import { epochMillis } from "../ids.js";
import { magnitudeOf, type Sample } from "../sample.js";

/** The ADXL345's step in full resolution: every reading is a whole multiple of it, in g. */
export const ADXL345_G_PER_STEP = 0.0039;

export interface WalkingWrist {
  /** The time of sample 0. */
  readonly start: number;
  /** Samples a second (10 by default). */
  readonly hz?: number;
  /** The sequence number of sample 0 (0 by default). */
  readonly firstSequence?: number;
}

/**
 * Samples `from` … `from + count - 1` of an ADXL345 on a walking wrist: a
 * swing at 1.8 steps a second over gravity, plus the chip's noise of a few
 * steps, each axis a whole number of steps as the chip reports it. The same
 * index always gives the same sample, so a long day can be cut into messages.
 */
export const walkingWrist = (series: WalkingWrist, from: number, count: number): Array<Sample> => {
  const hz = series.hz ?? 10;
  return Array.from({ length: count }, (_, i) => {
    const n = from + i;
    const phase = (n / hz) * 2 * Math.PI * 1.8;
    const noise = ((n * 7919) % 5) - 2;
    const chip = (g: number) => (Math.round(g / ADXL345_G_PER_STEP) + noise) * ADXL345_G_PER_STEP;
    const [x, y, z] = [
      chip(0.15 * Math.sin(phase)),
      chip(0.05 * Math.sin(phase / 2)),
      chip(1 + 0.2 * Math.abs(Math.sin(phase))),
    ];
    return {
      timestamp: epochMillis(series.start + Math.round(n * (1000 / hz))),
      sequence: (series.firstSequence ?? 0) + n,
      x,
      y,
      z,
      magnitude: magnitudeOf(x, y, z),
    };
  });
};
