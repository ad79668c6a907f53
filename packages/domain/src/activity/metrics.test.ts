import { Either } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Sample } from "../sample.js";
import {
  carRide,
  randomRotation,
  record,
  seeded,
  shakenTable,
  still,
  verticalSine,
  walking,
} from "../testing/activity-signals.js";
import { type BlockMetrics, blockMetrics, metricsOf } from "./block.js";
import { decodeBlock, encodeBlock } from "./block-codec.js";
import { columnsOf } from "./columns.js";
import { enmoMgOf } from "./epochs.js";
import { nonWearBlocks, nonWearFromSamples } from "./nonwear.js";
import { BLOCK_MS } from "./settings.js";

/** 2026-11-20T00:00:00Z: a multiple of 15 minutes. */
const DAY = Date.UTC(2026, 10, 20);
const MIN = 60_000;

const totals = (blocks: ReadonlyArray<BlockMetrics>) => {
  let steps = 0;
  let samples = 0;
  for (const b of blocks)
    for (const e of b.epochs) {
      steps += e.steps;
      samples += e.samples;
    }
  return { steps, samples };
};

const epochsOf = (blocks: ReadonlyArray<BlockMetrics>) => blocks.flatMap((b) => b.epochs);

const rotation = fc
  .integer({ min: 1, max: 2 ** 31 - 1 })
  .map((seed) => randomRotation(seeded(seed)));

describe("ENMO and MAD", () => {
  it("a still device reads ENMO 0 and MAD 0 at any orientation", () => {
    fc.assert(
      fc.property(rotation, fc.integer({ min: 1, max: 30 }), (r, minutes) => {
        const samples = record(
          { start: DAY, durationMs: minutes * MIN, rotation: r, quantize: false },
          still,
        );
        for (const e of epochsOf(metricsOf(columnsOf(samples), 60_000))) {
          expect(e.enmo).toBe(0);
          expect(e.mad).toBe(0);
          expect(e.steps).toBe(0);
        }
      }),
      { numRuns: 60 },
    );
  });

  it("a vertical sinusoid of amplitude A at 2.5 Hz, sampled at 10 Hz, reads ENMO A/4 and MAD A/2 exactly", () => {
    // The samples fall on 0, A, 0, −A: ‖a‖ − 1 is A once in four, so ENMO = A/4;
    // the mean ‖a‖ is 1 g, so MAD = (A + 0 + A + 0)/4 = A/2.
    for (const amplitude of [0.05, 0.1, 0.25, 0.5, 0.9]) {
      const samples = record(
        { start: DAY, durationMs: 15 * MIN, quantize: false, oversample: 1 },
        verticalSine(amplitude, 2.5),
      );
      for (const e of epochsOf(metricsOf(columnsOf(samples), 60_000))) {
        expect(enmoMgOf(e)).toBeCloseTo((amplitude / 4) * 1000, 9);
        expect(e.mad / 1000).toBeCloseTo((amplitude / 2) * 1000, 9);
      }
    }
  });

  it("at any orientation, the sinusoid's ENMO and MAD are the same", () => {
    fc.assert(
      fc.property(rotation, fc.double({ min: 0.05, max: 0.9, noNaN: true }), (r, amplitude) => {
        const samples = record(
          { start: DAY, durationMs: 2 * MIN, quantize: false, oversample: 1, rotation: r },
          verticalSine(amplitude, 2.5),
        );
        for (const e of epochsOf(metricsOf(columnsOf(samples), 60_000))) {
          expect(Math.abs(enmoMgOf(e) - amplitude * 250)).toBeLessThan(0.002);
          expect(Math.abs(e.mad / 1000 - amplitude * 500)).toBeLessThan(0.002);
        }
      }),
      { numRuns: 100 },
    );
  });

  it("continuous sampling (400 Hz) of a 1 Hz sinusoid approaches ENMO A/π and MAD 2A/π", () => {
    const amplitude = 0.3;
    const samples = record(
      { start: DAY, durationMs: 2 * MIN, hz: 400, quantize: false, oversample: 1 },
      verticalSine(amplitude, 1),
    );
    for (const e of epochsOf(metricsOf(columnsOf(samples), 60_000))) {
      expect(enmoMgOf(e) / ((amplitude / Math.PI) * 1000)).toBeCloseTo(1, 3);
      expect(e.mad / 1000 / ((2 * amplitude * 1000) / Math.PI)).toBeCloseTo(1, 3);
    }
  });

  it("epochs are aligned to UTC and of the chosen length", () => {
    const samples = record({ start: DAY + 7_300, durationMs: 3 * MIN }, still);
    for (const epochMs of [5_000, 10_000, 60_000]) {
      const [block] = metricsOf(columnsOf(samples), epochMs);
      expect(block?.start).toBe(DAY);
      expect(block?.epochs[0]?.index).toBe(Math.floor(7_300 / epochMs));
      const n = block?.epochs.reduce((a, e) => a + e.samples, 0);
      expect(n).toBe(samples.length);
    }
  });
});

describe("coverage", () => {
  it("is samples present over samples expected at the device's rate; gaps are not zeros", () => {
    const samples = record({ start: DAY, durationMs: 15 * MIN }, still);
    // Keep 7 of every 10 samples of minute 3, none of minute 5.
    const kept = samples.filter((s, i) => {
      const minute = Math.floor((s.timestamp - DAY) / MIN);
      return minute === 3 ? i % 10 < 7 : minute !== 5;
    });
    const [block] = metricsOf(columnsOf(kept), 60_000);
    const byIndex = new Map(block?.epochs.map((e) => [e.index, e]));
    expect(byIndex.get(0)).toMatchObject({ samples: 600, expected: 600 });
    expect(byIndex.get(3)).toMatchObject({ samples: 420, expected: 600 });
    expect(byIndex.has(5)).toBe(false);
    expect(block?.stats.minutes).toBe(0b111_1111_1101_1111);
  });

  it("is taken at the device's own rate", () => {
    for (const hz of [1, 10, 25, 50, 100]) {
      const samples = record({ start: DAY, durationMs: 2 * MIN, hz }, still);
      for (const e of epochsOf(metricsOf(columnsOf(samples), 60_000)))
        expect(e.expected).toBe(60 * hz);
    }
  });
});

describe("steps", () => {
  const count = (samples: ReadonlyArray<Sample>) =>
    totals(metricsOf(columnsOf(samples), 60_000)).steps;

  it("walking at a known cadence is counted within ±5 %, at 10 Hz, at any orientation", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 70, max: 160 }),
        fc.double({ min: 0.2, max: 0.8, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        (cadence, amplitude, seed) => {
          const gait = walking({ cadence, amplitude, seed });
          const minutes = 4;
          const samples = record(
            {
              start: DAY + 11 * MIN,
              durationMs: minutes * MIN,
              rotation: randomRotation(seeded(seed)),
            },
            gait.motion,
          );
          const truth = gait.stepsBy((minutes * MIN) / 1000);
          const steps = count(samples);
          expect(Math.abs(steps - truth) / truth).toBeLessThanOrEqual(0.05);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("each full minute's cadence is within ±5 % of the walker's", () => {
    for (const cadence of [80, 100, 120, 140]) {
      const gait = walking({ cadence, amplitude: 0.35, seed: cadence, variability: 0 });
      const samples = record({ start: DAY, durationMs: 10 * MIN }, gait.motion);
      const epochs = epochsOf(metricsOf(columnsOf(samples), 60_000));
      // The first minute holds the bout's start (four steps to recognise it): still counted.
      for (const e of epochs.slice(1, -1))
        expect(Math.abs(e.steps - cadence) / cadence).toBeLessThanOrEqual(0.05);
    }
  });

  it("counts alike at 25, 50 and 100 Hz", () => {
    const gait = walking({ cadence: 110, amplitude: 0.4, seed: 7 });
    const truth = gait.stepsBy(180);
    for (const hz of [25, 50, 100]) {
      const steps = count(record({ start: DAY, durationMs: 3 * MIN, hz }, gait.motion));
      expect(Math.abs(steps - truth) / truth).toBeLessThanOrEqual(0.05);
    }
  });

  it("walking across block boundaries is counted once", () => {
    const gait = walking({ cadence: 105, amplitude: 0.4, seed: 3 });
    const samples = record({ start: DAY + 10 * MIN, durationMs: 40 * MIN }, gait.motion);
    const blocks = metricsOf(columnsOf(samples), 60_000);
    expect(blocks.length).toBe(4);
    const truth = gait.stepsBy(40 * 60);
    expect(Math.abs(totals(blocks).steps - truth) / truth).toBeLessThanOrEqual(0.02);
  });

  it("a shaken table gives no steps", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const samples = record(
        { start: DAY, durationMs: 20 * MIN, rotation: randomRotation(seeded(seed)) },
        shakenTable(seed, 20 * 60),
      );
      expect(count(samples), `seed ${seed}`).toBe(0);
    }
  });

  it("a car ride gives no steps", () => {
    for (let seed = 1; seed <= 12; seed++) {
      const samples = record(
        { start: DAY, durationMs: 30 * MIN, rotation: randomRotation(seeded(seed + 100)) },
        carRide(seed, 30 * 60),
      );
      expect(count(samples), `seed ${seed}`).toBe(0);
    }
  });

  it("a still device gives no steps", () => {
    expect(count(record({ start: DAY, durationMs: 30 * MIN }, still))).toBe(0);
  });
});

describe("non-wear", () => {
  const moving = walking({ cadence: 100, amplitude: 0.3 }).motion;
  /** Still for `stillMin` minutes from `fromMin`, moving otherwise, over `totalMin` minutes from DAY. */
  const day = (fromMin: number, stillMin: number, totalMin: number, seed: number) =>
    record(
      { start: DAY, durationMs: totalMin * MIN, rotation: randomRotation(seeded(seed)) },
      // The chip averages the 100 ms before each sample: still from one period early, so that
      // the first still sample holds no movement.
      (s) => (s >= fromMin * 60 - 0.1 && s < (fromMin + stillMin) * 60 ? [0, 0, 0] : moving(s)),
    );
  const verdicts = (samples: ReadonlyArray<Sample>) => {
    const blocks = metricsOf(columnsOf(samples), 60_000);
    const stats = new Map(blocks.map((b) => [b.start, b.stats]));
    return nonWearBlocks(stats, DAY, DAY + 6 * 60 * MIN);
  };

  it("a device left still for 60 minutes is non-wear for those minutes, at any orientation", () => {
    for (let seed = 1; seed <= 10; seed++) {
      const off = verdicts(day(60, 60, 240, seed));
      expect([...off].sort()).toEqual([60, 75, 90, 105].map((m) => DAY + m * MIN));
    }
  });

  it("still for 45 minutes between movement is worn", () => {
    expect(verdicts(day(60, 45, 240, 1)).size).toBe(0);
  });

  it("a device never moved is non-wear throughout", () => {
    const samples = record({ start: DAY, durationMs: 120 * MIN }, still);
    expect(verdicts(samples).size).toBe(8);
  });

  it("from the blocks' statistics is exactly the rule applied to the raw samples", () => {
    // Still stretches, movement, gaps, different orientations and rates.
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            minutes: fc.integer({ min: 1, max: 45 }),
            kind: fc.constantFrom("still", "walk", "gap", "sine"),
            seed: fc.integer({ min: 1, max: 1000 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        fc.constantFrom(5, 10),
        (parts, hz) => {
          const samples: Array<Sample> = [];
          let t = DAY + 7 * MIN;
          for (const p of parts) {
            const motion =
              p.kind === "walk"
                ? walking({ cadence: 90 + p.seed / 20, amplitude: 0.3, seed: p.seed }).motion
                : p.kind === "sine"
                  ? verticalSine(0.004 * (p.seed % 5), 1.3)
                  : still;
            if (p.kind !== "gap")
              samples.push(
                ...record(
                  {
                    start: t,
                    durationMs: p.minutes * MIN,
                    hz,
                    rotation: randomRotation(seeded(p.seed)),
                    oversample: 1,
                  },
                  motion,
                ),
              );
            t += p.minutes * MIN;
          }
          const columns = columnsOf(samples);
          const stats = new Map(metricsOf(columns, 60_000).map((b) => [b.start, b.stats]));
          const from = DAY - 2 * BLOCK_MS;
          const to = t + 2 * BLOCK_MS;
          expect([...nonWearBlocks(stats, from, to)]).toEqual([
            ...nonWearFromSamples(columns, from, to),
          ]);
        },
      ),
      { numRuns: 25 },
    );
  }, 120_000);
});

describe("stored blocks", () => {
  it("decode to exactly the metrics encoded", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.constantFrom(5_000, 10_000, 60_000),
        (seed, epochMs) => {
          const random = seeded(seed);
          const samples = record(
            { start: DAY + Math.floor(random() * 20) * MIN, durationMs: 20 * MIN },
            random() < 0.5
              ? walking({ cadence: 80 + 60 * random(), amplitude: 0.4, seed }).motion
              : carRide(seed, 1200),
          ).filter(() => random() < 0.9);
          for (const block of metricsOf(columnsOf(samples), epochMs))
            expect(Either.getOrThrow(decodeBlock(encodeBlock(block), block.start))).toStrictEqual(
              block,
            );
        },
      ),
      { numRuns: 100 },
    );
  });

  it("fit one write unit: fifteen 60 s epochs in under 300 bytes", () => {
    const gait = walking({ cadence: 110, amplitude: 0.4 });
    const samples = record({ start: DAY, durationMs: 15 * MIN }, gait.motion);
    const [block] = metricsOf(columnsOf(samples), 60_000);
    expect(encodeBlock(block as BlockMetrics).length).toBeLessThan(300);
  });

  it("a block is defined by the samples within its context: more around it changes nothing", () => {
    const gait = walking({ cadence: 100, amplitude: 0.4, seed: 9 });
    const samples = record({ start: DAY, durationMs: 60 * MIN }, gait.motion);
    const all = columnsOf(samples);
    const near = columnsOf(
      samples.filter(
        (s) => s.timestamp >= DAY + 15 * MIN - 12_000 && s.timestamp < DAY + 30 * MIN + 12_000,
      ),
    );
    expect(blockMetrics(near, DAY + 15 * MIN, 60_000)).toStrictEqual(
      blockMetrics(all, DAY + 15 * MIN, 60_000),
    );
  });
});
