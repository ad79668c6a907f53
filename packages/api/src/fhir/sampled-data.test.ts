import { deviceId, epochMillis, magnitudeOf, type TimelineSample } from "@medusa/domain";
import { T0 } from "@medusa/domain/testing";
import { FastCheck as fc } from "effect";
import { describe, expect, it } from "vitest";
import {
  ADXL345_G_PER_LSB,
  decodeSampledData,
  MAX_PERIOD_MS,
  MAX_SAMPLES_PER_OBSERVATION,
  runsOf,
  type SampleRun,
  sampledDataOf,
} from "./sampled-data.js";

const D1 = deviceId("pi-1");
const D2 = deviceId("pi-2");

const sample = (
  device: string,
  t: number,
  sequence: number,
  [x, y, z]: readonly [number, number, number] = [0.0117, -0.0039, 0.9984],
): TimelineSample => ({
  deviceId: deviceId(device),
  timestamp: epochMillis(t),
  sequence,
  x,
  y,
  z,
  magnitude: magnitudeOf(x, y, z),
});

/** What an ADXL345 in full resolution reports: whole counts of 3.9 mg, computed as the device does. */
const adxl = fc.integer({ min: -4096, max: 4095 }).map((k) => k * ADXL345_G_PER_LSB);
/** Anything else in the sensor's range: decimals of older devices, and any double. */
const anyG = fc.oneof(
  fc.integer({ min: -16_000, max: 16_000 }).map((k) => k / 1000),
  fc.integer({ min: -1_600, max: 1_600 }).map((k) => k / 100),
  fc.double({ min: -16, max: 16, noNaN: true }),
  fc.constantFrom(0, -0, 1e-7, -1.5e-9, 16, -16),
);
const axes = (value: fc.Arbitrary<number>) => fc.tuple(value, value, value);

const runOf = (
  values: ReadonlyArray<readonly [number, number, number]>,
  period = 100,
): SampleRun => ({
  deviceId: D1,
  period,
  firstIndex: 0,
  samples: values.map((v, i) => sample("pi-1", T0 + i * period, i, v)),
});

/** Decodes as a consumer would and compares with the stored values (zero's sign aside). */
const decodesExactly = (run: SampleRun) => {
  const sd = sampledDataOf(run);
  const points = decodeSampledData(sd);
  expect(points).toHaveLength(run.samples.length);
  run.samples.forEach((s, i) => {
    const p = points[i];
    expect(p?.offsetMs).toBe(s.timestamp - (run.samples[0]?.timestamp ?? 0));
    // === on purpose: -0 and 0 are the same acceleration; every other value is the same double.
    expect([p?.x === s.x, p?.y === s.y, p?.z === s.z]).toEqual([true, true, true]);
  });
  return sd;
};

describe("SampledData of a run", () => {
  it("ADXL345 counts: factor 0.0039, the data are the whole counts, decoding gives every stored value exactly", () => {
    fc.assert(
      fc.property(fc.array(axes(adxl), { minLength: 1, maxLength: 300 }), (values) => {
        const sd = decodesExactly(runOf(values));
        expect(sd.factor).toBe(0.0039);
        expect(sd.data).toMatch(/^-?[0-9]+( -?[0-9]+)*$/);
      }),
    );
  });

  it("any other values: no factor, each value as its shortest exact decimal; exact too", () => {
    fc.assert(
      fc.property(fc.array(axes(anyG), { minLength: 1, maxLength: 100 }), (values) => {
        const sd = decodesExactly(runOf(values));
        if (sd.factor === undefined)
          for (const p of (sd.data ?? "").split(" ")) expect(Number(p).toString()).toBe(p);
      }),
    );
  });

  it("x, y, z interleaved, three dimensions, origin 0 g in UCUM, period the run's step", () => {
    const g = (k: number) => k * ADXL345_G_PER_LSB; // as the device computes it
    const sd = sampledDataOf(
      runOf(
        [
          [g(3), g(-1), g(256)],
          [g(2), g(0), g(257)],
        ],
        100,
      ),
    );
    expect(sd).toEqual({
      origin: { value: 0, unit: "g", system: "http://unitsofmeasure.org", code: "[g]" },
      period: 100,
      factor: 0.0039,
      dimensions: 3,
      data: "3 -1 256 2 0 257",
    });
    // Decimals as an older device sent them: 0.0117 is not 3 × 0.0039 in doubles (that is
    // 0.011699999999999999), so these go as decimals.
    const decimals = sampledDataOf(
      runOf([
        [0.0117, -0.02, 0.98],
        [-0, 0.0039, 1],
      ]),
    );
    expect([decimals.data, "factor" in decimals]).toEqual(["0.0117 -0.02 0.98 0 0.0039 1", false]);
  });
});

describe("runs: one device's evenly spaced samples", () => {
  it("a gap, a changed rate, a repeated time and the cap each start a new run; other devices' samples do not", () => {
    const page = [
      ...[0, 100, 200].map((dt, i) => sample("pi-1", T0 + dt, i)),
      // Another device's item, in between.
      ...[50, 150].map((dt, i) => sample("pi-2", T0 + dt, 100 + i)),
      sample("pi-1", T0 + 300, 3), // continues pi-1's run across pi-2's item
      sample("pi-1", T0 + 5_000, 4), // a gap (a step of 4.7 s is no rate)
      sample("pi-1", T0 + 5_050, 5), // 20 Hz from here
      sample("pi-1", T0 + 5_100, 6),
      sample("pi-1", T0 + 5_200, 7), // the rate changed back
      sample("pi-1", T0 + 5_200, 8), // the same time again
    ];
    const runs = runsOf(page);
    expect(
      runs.map((r) => [r.deviceId, r.period, r.firstIndex, r.samples.map((s) => s.sequence)]),
    ).toEqual([
      [D1, 100, 0, [0, 1, 2, 3]],
      [D2, 100, 3, [100, 101]],
      [D1, 50, 6, [4, 5, 6]],
      [D1, 100, 9, [7]],
      [D1, 100, 10, [8]],
    ]);
    const long = Array.from({ length: MAX_SAMPLES_PER_OBSERVATION + 5 }, (_, i) =>
      sample("pi-1", T0 + i * 100, i),
    );
    expect(runsOf(long).map((r) => r.samples.length)).toEqual([MAX_SAMPLES_PER_OBSERVATION, 5]);
  });

  it("every sample is in exactly one run, in its device's order; within a run the times are start + i × period", () => {
    const pages = fc
      .array(
        fc.record({
          device: fc.constantFrom("pi-1", "pi-2", "pi-3"),
          step: fc.oneof(fc.constant(100), fc.integer({ min: 0, max: 3 * MAX_PERIOD_MS })),
          length: fc.integer({ min: 1, max: 30 }),
        }),
        { maxLength: 12 },
      )
      .map((items) => {
        // Items of several devices, as the timeline gives them: each device's own in time order.
        const clock = new Map<string, number>();
        let sequence = 0;
        return items.flatMap(({ device, step, length }) => {
          const start = (clock.get(device) ?? T0) + 1 + step;
          const out = Array.from({ length }, (_, i) =>
            sample(device, start + i * step, sequence++),
          );
          clock.set(device, start + (length - 1) * step);
          return out;
        });
      });
    fc.assert(
      fc.property(pages, fc.integer({ min: 1, max: 50 }), (page, cap) => {
        const runs = runsOf(page, cap);
        expect(runs.flatMap((r) => r.samples).sort((a, b) => a.sequence - b.sequence)).toEqual(
          page,
        );
        expect(runs.map((r) => r.firstIndex)).toEqual(
          [...runs.map((r) => r.firstIndex)].sort((a, b) => a - b),
        );
        for (const r of runs) {
          expect(r.samples.length).toBeLessThanOrEqual(cap);
          expect(page[r.firstIndex]).toBe(r.samples[0]);
          const t0 = r.samples[0]?.timestamp ?? 0;
          r.samples.forEach((s, i) => {
            expect(s.deviceId).toBe(r.deviceId);
            expect(s.timestamp).toBe(t0 + i * r.period);
          });
          if (r.samples.length > 1) expect(r.period).toBeGreaterThanOrEqual(1);
          expect(r.period).toBeLessThanOrEqual(MAX_PERIOD_MS);
        }
      }),
    );
  });
});
