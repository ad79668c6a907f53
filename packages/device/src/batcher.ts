import { MAX_BATCH_SAMPLES, magnitudeOf, type Sample } from "@medusa/domain";

/**
 * Samples per message at most: a packed sample is at most about 41 bytes of
 * JSON, so 2,500 stay near 100 KB, under AWS IoT Core's 128 KB message limit
 * (the domain accepts up to 4,000 from other producers).
 */
export const MAX_MESSAGE_SAMPLES = 2_500;

/** A reading as a sensor gives it: its own time, acceleration in g. */
export interface Reading {
  readonly timestamp: number;
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

/** Rounding to 0.1 mg keeps every bit the ADXL345 resolves (3.9 mg/LSB) and keeps JSON short. */
const round = (v: number) => Math.round(v * 10_000) / 10_000;

/**
 * Numbers readings with the device's sequence and cuts them into batches for
 * the native batch format. Every reading is kept: a publish interval with more
 * readings than one batch may hold gives several batches.
 */
export class Batcher {
  private pending: Array<Sample> = [];
  private next: number;

  constructor(firstSequence = 0) {
    this.next = firstSequence;
  }

  /** Adds readings in the order the sensor gave them; returns how many were added. */
  add(readings: ReadonlyArray<Reading>): number {
    for (const r of readings) {
      const x = round(r.x);
      const y = round(r.y);
      const z = round(r.z);
      this.pending.push({
        timestamp: Math.round(r.timestamp) as Sample["timestamp"],
        sequence: this.next++,
        x,
        y,
        z,
        magnitude: magnitudeOf(x, y, z),
      });
    }
    return readings.length;
  }

  get size(): number {
    return this.pending.length;
  }

  /** The sequence number the next reading will get. */
  get nextSequence(): number {
    return this.next;
  }

  /** Takes everything pending, in batches of at most `maxSamples`. */
  take(maxSamples = MAX_BATCH_SAMPLES): ReadonlyArray<ReadonlyArray<Sample>> {
    const all = this.pending;
    this.pending = [];
    const batches: Array<ReadonlyArray<Sample>> = [];
    for (let i = 0; i < all.length; i += maxSamples) batches.push(all.slice(i, i + maxSamples));
    return batches;
  }
}
