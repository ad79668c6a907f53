import { Effect } from "effect";
import { G_PER_LSB } from "./adxl345.js";
import {
  type MotionReading,
  type MotionSensorService,
  motionSensorLayer,
  type SensorHealth,
} from "./sensor.js";

/** A small seeded PRNG (mulberry32): the same seed gives the same motion. */
const seededRandom = (seed: number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
};

const STEP_HZ = 1.8;
const MAX_CATCH_UP_MS = 10_000;

/**
 * Motion for machines without the chip: gravity on z, a walking rhythm
 * (~1.8 steps/s, vertical and forward components) and sensor noise;
 * deterministic for a seed and exact in cadence.
 */
export class SyntheticSensor implements MotionSensorService {
  readonly model = "synthetic";
  private rateHz = 10;
  private next = 0;
  private skipped = 0;
  private readonly random: () => number;

  constructor(
    seed = 1,
    private readonly now: () => number = Date.now,
  ) {
    this.random = seededRandom(seed);
  }

  async start(rateHz: number): Promise<void> {
    this.rateHz = rateHz;
    this.next = this.now() + 1000 / rateHz;
  }

  async setRate(rateHz: number): Promise<void> {
    this.rateHz = rateHz;
  }

  async drain(): Promise<ReadonlyArray<MotionReading>> {
    const out: Array<MotionReading> = [];
    const until = this.now();
    const period = 1000 / this.rateHz;
    // A clock stepped forward (NTP on a Pi without a real-time clock) must not
    // make up hours of readings at once: at most 10 s are generated, the rest skipped.
    if (until - this.next > MAX_CATCH_UP_MS) {
      this.skipped += Math.floor((until - MAX_CATCH_UP_MS - this.next) / period);
      this.next = until - MAX_CATCH_UP_MS;
    }
    while (this.next <= until) {
      out.push(this.reading(this.next));
      this.next += period;
    }
    return out;
  }

  private reading(t: number): MotionReading {
    const s = (t / 1000) * 2 * Math.PI * STEP_HZ;
    const noise = () => {
      // Box–Muller, σ = 0.01 g.
      const u = Math.max(this.random(), 1e-12);
      return 0.01 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.random());
    };
    // In the chip's own whole steps, as an ADXL345 in full resolution reports them.
    const chip = (g: number) => Math.round(g / G_PER_LSB) * G_PER_LSB;
    return {
      timestamp: Math.round(t),
      x: chip(0.15 * Math.sin(s + Math.PI / 2) + noise()),
      y: chip(0.05 * Math.sin(s / 2) + noise()),
      z: chip(1 + 0.25 * Math.abs(Math.sin(s)) - 0.12 + noise()),
    };
  }

  health(): SensorHealth {
    return { healthy: true, errorCount: 0, lost: this.skipped };
  }

  async close(): Promise<void> {}
}

/** The synthetic sensor as a layer (`now` is its clock, by default the system's). */
export const syntheticSensorLayer = (seed: number, now?: () => number) =>
  motionSensorLayer(Effect.sync(() => new SyntheticSensor(seed, now)));
