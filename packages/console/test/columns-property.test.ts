import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { epochColumns, type View } from "../src/activity.js";
import type { ActivityEpoch, Sample } from "../src/api.js";
import { rawColumns } from "../src/raw-columns.js";

const MIN = 60_000;

/**
 * uPlot draws aligned columns: x strictly increasing, every series as long as
 * x. Whatever the API's pages hold — a patient's devices worn one after the
 * other or overlapping (a hand-over, a device left on the desk), epochs of two
 * devices interleaved, pages joined in any order, an epoch repeated — the
 * columns must keep to that, or the chart is not drawn as the data is.
 */
const aligned = (x: ReadonlyArray<number>, series: ReadonlyArray<ReadonlyArray<unknown>>) => {
  for (let i = 1; i < x.length; i++)
    if (!((x[i] as number) > (x[i - 1] as number)))
      return `x not increasing at ${i}: ${x[i - 1]}, ${x[i]}`;
  for (const s of series)
    if (s.length !== x.length) return `a series of ${s.length} for ${x.length} x`;
  return "ok";
};

const epochOf = (time: number, device_id: string, samples: number): ActivityEpoch => ({
  time,
  epoch_ms: MIN,
  device_id,
  enmo_mg: 20,
  mad_mg: 30,
  samples,
  expected_samples: 600,
  coverage: samples / 600,
  wear: samples > 300,
  intensity: "sedentary",
  steps: 0,
  cadence_spm: 0,
});

/** One device's stretch of minutes: where it starts, how long, which minutes have no samples. */
const stretch = fc.record({
  from: fc.integer({ min: 0, max: 300 }),
  minutes: fc.integer({ min: 0, max: 200 }),
  samples: fc.constantFrom(0, 12, 600),
});

describe("chart columns of any patient's epochs and samples (property)", () => {
  it("epochs of two devices, overlapping or not, pages joined in any order: aligned columns, gaps in order within the view", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("dev-a", "dev-b"), stretch), { maxLength: 6 }),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: MIN - 1 }),
        fc.integer({ min: 1, max: 4 }),
        (stretches, viewFrom, viewMinutes, offset, pages) => {
          const epochs = stretches.flatMap(([device, s]) =>
            Array.from({ length: s.minutes }, (_, i) =>
              epochOf((s.from + i) * MIN, device, s.samples),
            ),
          );
          // The API's pages (by start, then device), joined as read: a page's last epoch may be
          // read again at the start of the next.
          const size = Math.ceil(epochs.length / pages) || 1;
          const sorted = [...epochs].sort(
            (a, b) => a.time - b.time || (a.device_id < b.device_id ? -1 : 1),
          );
          const joined = Array.from({ length: pages }, (_, p) =>
            sorted.slice(Math.max(0, p * size - 1), (p + 1) * size),
          ).flat();
          const view: View = {
            start: viewFrom * MIN + offset,
            end: (viewFrom + viewMinutes) * MIN + offset,
          };
          const c = epochColumns(joined, MIN, view);
          expect(aligned(c.x, [c.enmo, c.mad, c.coverage, c.wear])).toBe("ok");
          expect(c.x.length).toBeGreaterThan(0);
          expect(c.x[0] as number).toBeGreaterThan(view.start - MIN);
          expect(c.x.at(-1) as number).toBeLessThan(view.end);
          let last = view.start;
          for (const [from, to] of c.gaps) {
            // In order, apart, and within the view: one gap where there is one stretch without data.
            expect(from).toBeGreaterThanOrEqual(last);
            if (last !== view.start) expect(from).toBeGreaterThan(last);
            expect(to).toBeGreaterThan(from);
            last = to;
          }
          expect(last).toBeLessThanOrEqual(view.end);
        },
      ),
    );
  });

  it("raw samples of two devices, interleaved, repeated, out of order: aligned columns, a line a device", () => {
    const sample = (timestamp: number, device_id: string): Sample => ({
      device_id,
      timestamp,
      accel_x: 0,
      accel_y: 0,
      accel_z: 1,
      magnitude: 1,
      sequence: timestamp,
    });
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom("dev-a", "dev-b"),
            fc.integer({ min: 0, max: 600 }),
            fc.integer({ min: 0, max: 80 }),
            fc.constantFrom(100, 1_000, 5_000),
          ),
          { maxLength: 5 },
        ),
        fc.boolean(),
        (runs, reverse) => {
          const samples = runs.flatMap(([device, from, n, step]) =>
            Array.from({ length: n }, (_, i) => sample(from * 100 + i * step, device)),
          );
          const read = reverse ? [...samples, ...samples.slice(0, 10)].reverse() : samples;
          const c = rawColumns(read, { start: 0, end: 1_000_000 });
          expect(aligned(c.x, c.lines)).toBe("ok");
          expect(c.lines.length).toBe(c.devices.length);
        },
      ),
    );
  });
});
