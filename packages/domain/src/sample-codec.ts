import { Either } from "effect";
import { EARLIEST_SAMPLE_TIME, magnitudeOf, type Sample } from "./sample.js";

/**
 * The compact form of a stored run of samples: a few bytes a sample, so that
 * an item of 100 samples (10 s at 10 Hz) stays under 1 KB, one write unit.
 * It gives back exactly the values it was given — every time, sequence number,
 * axis value, temperature and device-reported magnitude, bit for bit — choosing
 * per item the smallest form that does:
 *
 * - times and sequence numbers as varint deltas from the first, or nothing at
 *   all when they advance by one constant step (the common case);
 * - axes as whole multiples of a step when every value of the item is one
 *   exactly (the ADXL345 in full resolution reports multiples of 3.9 mg; older
 *   devices rounded to decimals), as zigzag varint deltas from the previous
 *   sample; as 64-bit floats otherwise;
 * - temperature and the device's own magnitude (older devices sent one) as
 *   optional columns, in the same forms.
 *
 * Layout (version 2): `[2, flags, varint n, varint t0 − 2020, varint n0,
 * time steps, sequence steps, axes, temperature?, magnitude?]`.
 */
export const SAMPLE_CODEC_VERSION = 2;

const F_REGULAR_TIME = 1;
const F_CONSECUTIVE = 2;
const F_TEMPERATURE = 4;
const F_MAGNITUDE = 8;
const F_RECEIVED_AT = 16;
const F_SOURCE_BITMAP = 32;
const F_ABSOLUTE_SEQUENCE = 64;

/**
 * The steps a column of values may be whole multiples of, tried in order:
 * the ADXL345's 3.9 mg (full resolution), then decimals (older devices
 * rounded their readings). Stored as an index: a new step is a new entry.
 */
const STEPS: ReadonlyArray<readonly [kind: "times" | "over", factor: number]> = [
  ["times", 0.0039],
  ["over", 10],
  ["over", 100],
  ["over", 1_000],
  ["over", 10_000],
  ["over", 100_000],
  ["over", 1_000_000],
];
const FLOAT64 = 255;

/** The value of whole `k` in a step, computed as the device computed it (bit for bit). */
const stepValue = (step: number, k: number): number => {
  const [kind, factor] = STEPS[step] as readonly [string, number];
  return kind === "times" ? k * factor : k / factor;
};
const wholeOf = (step: number, v: number): number => {
  const [kind, factor] = STEPS[step] as readonly [string, number];
  return Math.round(kind === "times" ? v / factor : v * factor);
};

/** The first step every value is an exact, safely small multiple of, or `FLOAT64`. */
const stepFor = (values: ReadonlyArray<number>): number => {
  for (let step = 0; step < STEPS.length; step++) {
    let exact = true;
    for (const v of values) {
      // Whole steps carry no sign of zero: a -0 keeps its column in float64.
      const k = wholeOf(step, v) || 0;
      if (!Number.isSafeInteger(k) || Math.abs(k) > 2 ** 40 || !Object.is(stepValue(step, k), v)) {
        exact = false;
        break;
      }
    }
    if (exact) return step;
  }
  return FLOAT64;
};

class Writer {
  private bytes = new Uint8Array(256);
  private length = 0;
  private readonly view8 = new DataView(new ArrayBuffer(8));

  private room(n: number) {
    if (this.length + n <= this.bytes.length) return;
    const next = new Uint8Array(Math.max(this.bytes.length * 2, this.length + n));
    next.set(this.bytes.subarray(0, this.length));
    this.bytes = next;
  }
  byte(b: number) {
    this.room(1);
    this.bytes[this.length++] = b;
  }
  /** A non-negative whole number below 2^53, 7 bits a byte. */
  varint(n: number) {
    let v = n;
    while (v >= 0x80) {
      this.byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.byte(v);
  }
  /** A whole number of either sign: 0, −1, 1, −2, … as 0, 1, 2, 3, … */
  zigzag(n: number) {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }
  float64(v: number) {
    this.view8.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.byte(this.view8.getUint8(i));
  }
  /** A column: its step, then each value (as a delta from the last, in whole steps). */
  column(values: ReadonlyArray<number>) {
    const step = stepFor(values);
    this.byte(step);
    if (step === FLOAT64) {
      for (const v of values) this.float64(v);
      return;
    }
    let last = 0;
    for (const v of values) {
      const k = wholeOf(step, v);
      this.zigzag(k - last);
      last = k;
    }
  }
  done(): Uint8Array {
    return this.bytes.slice(0, this.length);
  }
}

class Reader {
  private at = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  byte(): number {
    if (this.at >= this.bytes.length) throw new RangeError("the samples end too soon");
    return this.bytes[this.at++] as number;
  }
  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new RangeError("a number in the samples is too long");
    }
  }
  zigzag(): number {
    const v = this.varint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }
  float64(): number {
    if (this.at + 8 > this.bytes.length) throw new RangeError("the samples end too soon");
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }
  column(n: number): Array<number> {
    const step = this.byte();
    const out = new Array<number>(n);
    if (step === FLOAT64) {
      for (let i = 0; i < n; i++) out[i] = this.float64();
      return out;
    }
    if (step >= STEPS.length) throw new RangeError(`unknown step ${step}`);
    let k = 0;
    for (let i = 0; i < n; i++) {
      k += this.zigzag();
      out[i] = stepValue(step, k);
    }
    return out;
  }
  get rest(): number {
    return this.bytes.length - this.at;
  }
}

/** Whole steps of a sequence of whole numbers: one common step, or each one. */
const steps = (w: Writer, values: ReadonlyArray<number>, regular: boolean) => {
  if (regular) w.zigzag((values[1] ?? values[0] ?? 0) - (values[0] ?? 0));
  else
    for (let i = 1; i < values.length; i++)
      w.zigzag((values[i] as number) - (values[i - 1] as number));
};

/** A bit a sample, eight to a byte. */
const bitmap = (w: Writer, samples: ReadonlyArray<Sample>, bit: (s: Sample) => boolean) => {
  for (let i = 0; i < samples.length; i += 8) {
    let bits = 0;
    for (let j = 0; j < 8 && i + j < samples.length; j++)
      if (bit(samples[i + j] as Sample)) bits |= 1 << j;
    w.byte(bits);
  }
};
const readBitmap = (r: Reader, n: number): Array<number> => {
  const set: Array<number> = [];
  for (let i = 0; i < n; i += 8) {
    const bits = r.byte();
    for (let j = 0; j < 8 && i + j < n; j++) if (bits & (1 << j)) set.push(i + j);
  }
  return set;
};

/**
 * Encodes a run of samples (at least one) in the compact form. Samples keep
 * their order; a sample whose magnitude is not `magnitudeOf` its axes (a
 * device-reported one) keeps it.
 */
export const encodeSamples = (samples: ReadonlyArray<Sample>): Uint8Array => {
  const n = samples.length;
  if (n === 0) throw new RangeError("a run holds at least one sample");
  const times = samples.map((s) => s.timestamp);
  const sequences = samples.map((s) => s.sequence);
  const dt = n > 1 ? (times[1] as number) - (times[0] as number) : 0;
  const regularTime = times.every((t, i) => t === (times[0] as number) + i * dt);
  const consecutive = sequences.every((q, i) => q === (sequences[0] as number) + i);
  // Numbers far apart (up to 2^53) make steps no double holds exactly: then each as it is.
  const absolute =
    !consecutive &&
    sequences.some((q, i) => i > 0 && Math.abs(q - (sequences[i - 1] as number)) > 2 ** 50);
  const withTemperature = samples.some((s) => s.temperature !== undefined);
  const withMagnitude = samples.some((s) => s.magnitude !== magnitudeOf(s.x, s.y, s.z));
  const receivedAt = samples.every((s) => s.timestampSource === "received_at");
  const mixedSource = !receivedAt && samples.some((s) => s.timestampSource !== undefined);
  const w = new Writer();
  w.byte(SAMPLE_CODEC_VERSION);
  w.byte(
    (regularTime ? F_REGULAR_TIME : 0) |
      (consecutive ? F_CONSECUTIVE : 0) |
      (withTemperature ? F_TEMPERATURE : 0) |
      (withMagnitude ? F_MAGNITUDE : 0) |
      (receivedAt ? F_RECEIVED_AT : 0) |
      (mixedSource ? F_SOURCE_BITMAP : 0) |
      (absolute ? F_ABSOLUTE_SEQUENCE : 0),
  );
  w.varint(n);
  w.varint((times[0] as number) - EARLIEST_SAMPLE_TIME);
  w.varint(sequences[0] as number);
  steps(w, times, regularTime);
  if (absolute) for (const q of sequences.slice(1)) w.varint(q);
  else if (!consecutive) steps(w, sequences, false);
  // Timed by its arrival, not by the device: a bit each, when some are and some not.
  if (mixedSource) bitmap(w, samples, (s) => s.timestampSource === "received_at");
  w.column(samples.map((s) => s.x));
  w.column(samples.map((s) => s.y));
  w.column(samples.map((s) => s.z));
  if (withTemperature) {
    bitmap(w, samples, (s) => s.temperature !== undefined);
    w.column(samples.flatMap((s) => (s.temperature === undefined ? [] : [s.temperature])));
  }
  if (withMagnitude) w.column(samples.map((s) => s.magnitude));
  return w.done();
};

/** The samples of the compact form, or why the bytes are not one. */
export const decodeSamples = (bytes: Uint8Array): Either.Either<ReadonlyArray<Sample>, string> => {
  try {
    const r = new Reader(bytes);
    const version = r.byte();
    if (version !== SAMPLE_CODEC_VERSION) return Either.left(`unknown sample format ${version}`);
    const flags = r.byte();
    const n = r.varint();
    if (n === 0 || n > bytes.length)
      return Either.left(`a run of ${n} samples in ${bytes.length} bytes`);
    const t0 = EARLIEST_SAMPLE_TIME + r.varint();
    const n0 = r.varint();
    const times = new Array<number>(n);
    const sequences = new Array<number>(n);
    times[0] = t0;
    sequences[0] = n0;
    if (flags & F_REGULAR_TIME) {
      const dt = r.zigzag();
      for (let i = 1; i < n; i++) times[i] = t0 + i * dt;
    } else for (let i = 1; i < n; i++) times[i] = (times[i - 1] as number) + r.zigzag();
    if (flags & F_CONSECUTIVE) for (let i = 1; i < n; i++) sequences[i] = n0 + i;
    else if (flags & F_ABSOLUTE_SEQUENCE) for (let i = 1; i < n; i++) sequences[i] = r.varint();
    else for (let i = 1; i < n; i++) sequences[i] = (sequences[i - 1] as number) + r.zigzag();
    const byArrival = flags & F_SOURCE_BITMAP ? new Set(readBitmap(r, n)) : undefined;
    const x = r.column(n);
    const y = r.column(n);
    const z = r.column(n);
    const temperatures = new Array<number | undefined>(n);
    if (flags & F_TEMPERATURE) {
      const present = readBitmap(r, n);
      const values = r.column(present.length);
      present.forEach((i, k) => {
        temperatures[i] = values[k];
      });
    }
    const magnitudes = flags & F_MAGNITUDE ? r.column(n) : undefined;
    if (r.rest !== 0) return Either.left(`${r.rest} bytes after the samples`);
    const samples = new Array<Sample>(n);
    for (let i = 0; i < n; i++) {
      const [xi, yi, zi] = [x[i] as number, y[i] as number, z[i] as number];
      const sample: { -readonly [K in keyof Sample]: Sample[K] } = {
        timestamp: times[i] as Sample["timestamp"],
        sequence: sequences[i] as number,
        x: xi,
        y: yi,
        z: zi,
        magnitude: magnitudes ? (magnitudes[i] as number) : magnitudeOf(xi, yi, zi),
      };
      const temperature = temperatures[i];
      if (temperature !== undefined) sample.temperature = temperature;
      if (flags & F_RECEIVED_AT || byArrival?.has(i)) sample.timestampSource = "received_at";
      samples[i] = sample;
    }
    return Either.right(samples);
  } catch (e) {
    return Either.left(e instanceof Error ? e.message : String(e));
  }
};
