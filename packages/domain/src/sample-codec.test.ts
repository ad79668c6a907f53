import { Arbitrary, Either } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type EpochMillis, epochMillis } from "./ids.js";
import { magnitudeOf, Sample } from "./sample.js";
import { decodeSamples, encodeSamples } from "./sample-codec.js";
import { walkingWrist } from "./testing/motion.js";

const G_PER_LSB = 0.0039;
const T = 1_763_625_600_000;

const equal = (s: Sample, t: Sample) =>
  Object.is(s.timestamp, t.timestamp) &&
  Object.is(s.sequence, t.sequence) &&
  Object.is(s.x, t.x) &&
  Object.is(s.y, t.y) &&
  Object.is(s.z, t.z) &&
  Object.is(s.magnitude, t.magnitude) &&
  Object.is(s.temperature, t.temperature) &&
  "temperature" in s === "temperature" in t &&
  s.timestampSource === t.timestampSource &&
  "timestampSource" in s === "timestampSource" in t;

/**
 * The same values, bit for bit (Object.is: -0 is not 0), compared plainly,
 * with `expect` only on a difference: these run for hundreds of thousands of
 * samples, and an `expect` per field made this file take a minute.
 */
const same = (a: ReadonlyArray<Sample>, b: ReadonlyArray<Sample>) => {
  if (b.length !== a.length) expect(b.length).toBe(a.length);
  for (let i = 0; i < a.length; i++)
    if (!equal(a[i] as Sample, b[i] as Sample)) expect([i, b[i]]).toEqual([i, a[i]]);
};

const roundTrip = (samples: ReadonlyArray<Sample>) => {
  const back = decodeSamples(encodeSamples(samples));
  if (Either.isLeft(back)) throw new Error(back.left);
  same(samples, back.right);
  return back.right;
};

/**
 * What an ADXL345 in full resolution reports: whole multiples of 3.9 mg, as the
 * driver computes them — from a seed (a run of 100 drawn value by value makes
 * fast-check's shrinking trees the slow part), over the whole 13-bit range or
 * in small steps, as a resting or moving wrist gives.
 */
const adxlRun = (n: number, at: number) =>
  fc.tuple(fc.integer(), fc.constantFrom(8192, 64, 4)).map(([seed, spread]) => {
    let state = seed | 1;
    const next = () => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return state;
    };
    let k = [0, 0, 256];
    return Array.from({ length: n }, (_, i): Sample => {
      k = k.map((v) =>
        Math.max(-4096, Math.min(4095, (spread > 4096 ? 0 : v) + (next() % spread))),
      );
      const [x, y, z] = k.map((v) => v * G_PER_LSB) as [number, number, number];
      return {
        timestamp: epochMillis(at + i * 100),
        sequence: 5_000 + i,
        x,
        y,
        z,
        magnitude: magnitudeOf(x, y, z),
      };
    });
  });

describe("the compact sample form", () => {
  it("round-trips any samples exactly: times, numbers, axes, temperature, the device's magnitude, the time's source", () => {
    const anySample = Arbitrary.make(Sample);
    fc.assert(
      fc.property(
        fc.array(anySample, { minLength: 1, maxLength: 60 }),
        fc.boolean(),
        (samples, deviceMagnitudes) => {
          // The schema's samples carry arbitrary magnitudes: as a device that sent its own would.
          roundTrip(
            deviceMagnitudes
              ? samples
              : samples.map((s) => ({ ...s, magnitude: magnitudeOf(s.x, s.y, s.z) })),
          );
        },
      ),
    );
  });

  it("round-trips ADXL345-shaped runs exactly, regular or not", () => {
    fc.assert(
      fc.property(adxlRun(100, T), fc.nat(99), fc.boolean(), (run, cut, gap) => {
        roundTrip(run);
        // A gap in time and in numbers (a lost sample), and an arrival-timed one.
        const irregular = run.map((s, i) =>
          i < cut
            ? s
            : {
                ...s,
                timestamp: (s.timestamp + (gap ? 37 : 0)) as EpochMillis,
                sequence: s.sequence + 1,
              },
        );
        roundTrip(irregular);
        roundTrip([{ ...run[0]!, timestampSource: "received_at" as const }, ...run.slice(1)]);
        roundTrip(run.map((s) => ({ ...s, temperature: 21.5 })));
      }),
    );
  });

  it("keeps the older devices' rounded decimals, -0 and whatever is no multiple of a step", () => {
    const base = { timestamp: epochMillis(T), sequence: 1 };
    roundTrip([
      { ...base, x: 0.012, y: -0.023, z: 0.984, magnitude: 0.9843 },
      { ...base, sequence: 2, x: -0, y: 0, z: 1, magnitude: 1 },
      { ...base, sequence: 3, x: Math.PI / 10, y: 1e-9, z: -15.999999, magnitude: 16 },
    ]);
    // A -0 among whole steps (found by the property above: seed 581395531).
    roundTrip([{ ...base, x: 0, y: -0, z: 0, magnitude: 0 }]);
    roundTrip([
      { ...base, x: 0.0039, y: -0, z: 1.0023, magnitude: magnitudeOf(0.0039, 0, 1.0023) },
      {
        ...base,
        sequence: 2,
        x: -0.0078,
        y: 0.0039,
        z: 0.9984,
        magnitude: magnitudeOf(-0.0078, 0.0039, 0.9984),
      },
    ]);
  });

  it("puts 100 ADXL345 samples at 10 Hz in a few hundred bytes: one item under 1 KB", () => {
    // A wrist at rest and walking: a slow swing plus the chip's noise, in whole steps.
    const walk = walkingWrist({ start: T, firstSequence: 9_000 }, 0, 100);
    const bytes = encodeSamples(walk);
    expect(bytes.length).toBeLessThan(500);
    roundTrip(walk);
  });

  it("refuses bytes that are no run of samples, with a reason", () => {
    const good = encodeSamples([
      { timestamp: epochMillis(T), sequence: 1, x: 0, y: 0, z: 1, magnitude: 1 },
    ]);
    for (const bad of [
      new Uint8Array([]),
      new Uint8Array([9]),
      good.slice(0, -1),
      new Uint8Array([...good, 0]),
    ])
      expect(Either.isLeft(decodeSamples(bad))).toBe(true);
  });
});
