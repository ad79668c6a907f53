import { epochMillis } from "../ids.js";
import { magnitudeOf, type Sample } from "../sample.js";

/**
 * Synthetic accelerometer recordings with known answers, for the activity
 * metrics' tests and benchmarks: a still device, a sinusoid, walking at a
 * known cadence, a shaken table, a car ride. Each is a motion in the world
 * frame (z up; a device at rest reads +1 g up), turned into the device's
 * orientation and sampled as an ADXL345 would: the chip averages its
 * internal rate down to the output rate (so motion above the output's
 * Nyquist frequency is mostly filtered out, not aliased) and reports whole
 * multiples of 3.9 mg when `quantize` is on. Deterministic: a seed gives the
 * same recording every time.
 */

/** A small, fast, seedable generator (mulberry32): numbers in [0, 1). */
export const seeded = (seed: number) => {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
};

export type Vec = readonly [number, number, number];
/** A rotation: rows are the device's axes in world coordinates. */
export type Rotation = readonly [Vec, Vec, Vec];

export const IDENTITY: Rotation = [
  [1, 0, 0],
  [0, 1, 0],
  [0, 0, 1],
];

/** A uniformly random rotation (from a random unit quaternion). */
export const randomRotation = (random: () => number): Rotation => {
  const [u1, u2, u3] = [random(), random(), random()];
  const a = Math.sqrt(1 - u1);
  const b = Math.sqrt(u1);
  const [w, x, y, z] = [
    a * Math.sin(2 * Math.PI * u2),
    a * Math.cos(2 * Math.PI * u2),
    b * Math.sin(2 * Math.PI * u3),
    b * Math.cos(2 * Math.PI * u3),
  ];
  return [
    [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
    [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
    [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
  ];
};

const turn = (r: Rotation, v: Vec): Vec => [
  r[0][0] * v[0] + r[0][1] * v[1] + r[0][2] * v[2],
  r[1][0] * v[0] + r[1][1] * v[1] + r[1][2] * v[2],
  r[2][0] * v[0] + r[2][1] * v[1] + r[2][2] * v[2],
];

/** Motion in the world frame: acceleration in g (without gravity) at time `s` seconds from the start. */
export type Motion = (s: number) => Vec;

export interface Recording {
  /** The time of the first sample, epoch ms. */
  readonly start: number;
  readonly durationMs: number;
  /** Output rate (10 unless given). */
  readonly hz?: number;
  readonly rotation?: Rotation;
  /** Whole multiples of the ADXL345's 3.9 mg (true unless given). */
  readonly quantize?: boolean;
  /** Sub-samples the chip averages per output sample (1: sampled at the instant). */
  readonly oversample?: number;
  readonly firstSequence?: number;
}

const STEP_G = 0.0039;

/** Samples of `motion` as a device records them. */
export const record = (r: Recording, motion: Motion): Array<Sample> => {
  const hz = r.hz ?? 10;
  const rotation = r.rotation ?? IDENTITY;
  const quantize = r.quantize ?? true;
  const over = r.oversample ?? 8;
  const n = Math.floor((r.durationMs * hz) / 1000);
  const out = new Array<Sample>(n);
  for (let i = 0; i < n; i++) {
    let ax = 0;
    let ay = 0;
    let az = 0;
    for (let k = 0; k < over; k++) {
      // The chip's average over the output period ending at the sample.
      const s = (i - (over === 1 ? 0 : (over - 1 - k) / over)) / hz;
      const [mx, my, mz] = motion(s);
      ax += mx;
      ay += my;
      az += mz + 1;
    }
    const [x0, y0, z0] = turn(rotation, [ax / over, ay / over, az / over]);
    const q = (g: number) => (quantize ? Math.round(g / STEP_G) * STEP_G : g);
    const [x, y, z] = [q(x0), q(y0), q(z0)];
    out[i] = {
      timestamp: epochMillis(r.start + Math.round((i * 1000) / hz)),
      sequence: (r.firstSequence ?? 0) + i,
      x,
      y,
      z,
      magnitude: magnitudeOf(x, y, z),
    };
  }
  return out;
};

/** Not moving at all. */
export const still: Motion = () => [0, 0, 0];

/** A vertical sinusoid: `amplitude` g at `frequency` Hz. */
export const verticalSine =
  (amplitude: number, frequency: number): Motion =>
  (s) => [0, 0, amplitude * Math.sin(2 * Math.PI * frequency * s)];

export interface Gait {
  /** Steps per minute. */
  readonly cadence: number;
  /** Vertical acceleration amplitude at the step frequency, g. */
  readonly amplitude: number;
  /** Step-to-step variation of the cadence (0.03: ±3 %). */
  readonly variability?: number;
  readonly seed?: number;
}

/**
 * Walking: vertical acceleration at the step frequency with a second
 * harmonic, forward sway at the step frequency, sideways sway at half of it
 * (one stride, two steps), the step frequency drifting slowly by
 * `variability`. `stepsBy(s)` is the number of steps completed by time `s`.
 */
export const walking = (
  g: Gait,
): { readonly motion: Motion; readonly stepsBy: (s: number) => number } => {
  const random = seeded(g.seed ?? 1);
  const v = g.variability ?? 0.03;
  // The phase of a slowly drifting frequency, integrated in closed form.
  const wobbles = Array.from({ length: 3 }, () => ({
    f: 0.01 + 0.05 * random(),
    p: 2 * Math.PI * random(),
    a: (v / 3) * (0.5 + random()),
  }));
  const base = g.cadence / 60;
  const phase = (s: number) => {
    let p = base * s;
    for (const w of wobbles)
      p +=
        ((base * w.a) / (2 * Math.PI * w.f)) *
        (Math.sin(2 * Math.PI * w.f * s + w.p) - Math.sin(w.p));
    return 2 * Math.PI * p;
  };
  const harmonic = 2 * Math.PI * random();
  return {
    motion: (s) => {
      const phi = phase(s);
      return [
        0.25 * g.amplitude * Math.sin(phi / 2),
        0.4 * g.amplitude * Math.sin(phi + Math.PI / 3),
        g.amplitude * (Math.sin(phi) + 0.3 * Math.sin(2 * phi + harmonic)),
      ];
    },
    stepsBy: (s) => Math.floor(phase(s) / (2 * Math.PI)),
  };
};

/** The sum of random sinusoids with frequencies in `[lo, hi]` Hz and this root mean square, g. */
const noise = (random: () => number, lo: number, hi: number, rms: number, count = 24) => {
  const parts = Array.from({ length: count }, () => ({
    f: lo + (hi - lo) * random(),
    p: 2 * Math.PI * random(),
  }));
  const a = rms * Math.sqrt(2 / count);
  return (s: number) => {
    let v = 0;
    for (const x of parts) v += a * Math.sin(2 * Math.PI * x.f * s + x.p);
    return v;
  };
};

/** A decaying bounce: amplitude `a` g at `f` Hz with damping ratio `zeta`, from `at` s. */
const bounce = (at: number, a: number, f: number, zeta: number) => (s: number) => {
  const t = s - at;
  // After 10 time constants it is gone (e^-10 of it).
  if (t < 0 || t * zeta * 2 * Math.PI * f > 10) return 0;
  return a * Math.exp(-zeta * 2 * Math.PI * f * t) * Math.sin(2 * Math.PI * f * t);
};

/**
 * A device on a table someone shakes: horizontal shaking of up to `strength`
 * g (0.5 unless given) at 2–6 Hz in bursts of 5–30 s, a rattle, and knocks on
 * the table top.
 */
export const shakenTable = (seed: number, durationS: number, strength = 0.5): Motion => {
  const random = seeded(seed);
  const bursts: Array<{ from: number; to: number; a: number; f: number; dir: number }> = [];
  for (let s = 0; s < durationS; ) {
    const length = 5 + 25 * random();
    bursts.push({
      from: s,
      to: s + length,
      a: strength * (0.3 + 0.7 * random()),
      f: 2 + 4 * random(),
      dir: 2 * Math.PI * random(),
    });
    s += length + 2 + 10 * random();
  }
  const knocks = Array.from({ length: Math.ceil(durationS / 15) }, () =>
    bounce(durationS * random(), 0.3 + 0.4 * random(), 6 + 4 * random(), 0.5),
  );
  const rattle = noise(random, 3, 20, 0.02);
  return (s) => {
    let h = 0;
    let dir = 0;
    for (const b of bursts)
      if (s >= b.from && s < b.to) {
        h = b.a * Math.sin(2 * Math.PI * b.f * (s - b.from));
        dir = b.dir;
      }
    let v = rattle(s);
    for (const k of knocks) v += k(s);
    return [h * Math.cos(dir), h * Math.sin(dir), v];
  };
};

/**
 * A device on a passenger in a car: speeding up and braking (up to 0.3 g,
 * slow), turns (up to 0.3 g sideways), road noise (0.04 g rms at 1–8 Hz),
 * engine vibration (25–40 Hz), and a bump every 20 s on average: the seat's
 * decaying bounce of 0.2–0.6 g at 1–1.6 Hz (damping ratio 0.2–0.4).
 */
export const carRide = (seed: number, durationS: number): Motion => {
  const random = seeded(seed);
  const longitudinal = noise(random, 0.02, 0.1, 0.12, 6);
  const lateral = noise(random, 0.02, 0.08, 0.12, 6);
  const road = noise(random, 1, 8, 0.04);
  const engine = noise(random, 25, 40, 0.02, 6);
  const bumps: Array<(s: number) => number> = [];
  for (let s = 20 * random(); s < durationS; s += 5 + 30 * random())
    bumps.push(bounce(s, 0.2 + 0.4 * random(), 1 + 0.6 * random(), 0.2 + 0.2 * random()));
  return (s) => {
    let v = road(s) + engine(s);
    for (const b of bumps) v += b(s);
    return [longitudinal(s), lateral(s), v];
  };
};
