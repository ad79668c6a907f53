import { Array as Arr, Either, ParseResult, Schema } from "effect";
import {
  Acceleration,
  isSampleTime,
  MAX_G,
  MAX_MAGNITUDE,
  Magnitude,
  magnitudeAgrees,
  magnitudeOf,
  Sample,
  SampleTime,
  Sequence,
  Temperature,
} from "../sample.js";
import { decodeGuarded, InvalidPayload, parseJson } from "./json.js";

/**
 * A device time on the wire. Epoch milliseconds; older firmware sent epoch
 * seconds (possibly fractional), recognisable because any millisecond time
 * after 1973 is above 10^11.
 */
export const WireTime = Schema.transformOrFail(
  Schema.Number.pipe(Schema.finite({ message: () => "timestamp must be a finite number" })),
  SampleTime,
  {
    strict: true,
    decode: (n, _, ast) =>
      n < 1e11
        ? ParseResult.succeed(Math.round(n * 1000))
        : Number.isInteger(n)
          ? ParseResult.succeed(n)
          : ParseResult.fail(
              new ParseResult.Type(ast, n, "timestamp in milliseconds must be an integer"),
            ),
    encode: (ms) => ParseResult.succeed(ms),
  },
);

// ---------------------------------------------------------------------------
// The single reading that existing devices publish.

const SingleReadingWire = Schema.Struct({
  x: Acceleration,
  y: Acceleration,
  z: Acceleration,
  magnitude: Schema.optionalWith(Magnitude, { exact: true }),
  temperature: Schema.optionalWith(Temperature, { exact: true }),
  sequence: Sequence,
  timestamp: Schema.optionalWith(WireTime, { exact: true }),
}).pipe(
  Schema.filter(
    (r) =>
      r.magnitude === undefined ||
      magnitudeAgrees(r.magnitude, r.x, r.y, r.z) || {
        path: ["magnitude"],
        message: `magnitude ${r.magnitude} differs from sqrt(x²+y²+z²) = ${magnitudeOf(r.x, r.y, r.z).toFixed(4)} by more than 10%`,
      },
  ),
);

const SingleReadingType = Schema.Struct({
  x: Acceleration,
  y: Acceleration,
  z: Acceleration,
  magnitude: Magnitude,
  temperature: Schema.optionalWith(Temperature, { exact: true }),
  sequence: Sequence,
  timestamp: Schema.optionalWith(SampleTime, { exact: true }),
});

/**
 * `{x, y, z, magnitude?, temperature?, sequence, timestamp?}` in g, accepted as
 * the existing devices publish it. `magnitude` is computed when absent.
 */
export const SingleReading = Schema.transform(
  SingleReadingWire,
  Schema.typeSchema(SingleReadingType),
  {
    strict: true,
    decode: (w) => ({ ...w, magnitude: w.magnitude ?? magnitudeOf(w.x, w.y, w.z) }),
    encode: (r) => r,
  },
);
export type SingleReading = typeof SingleReading.Type;

/** The reading as a sample, with `receivedAt` standing in for a missing device time. */
export const sampleFromReading = (reading: SingleReading, receivedAt: number): Sample => {
  const { timestamp, ...rest } = reading;
  return timestamp === undefined
    ? { ...rest, timestamp: receivedAt as Sample["timestamp"], timestampSource: "received_at" }
    : { ...rest, timestamp };
};

// ---------------------------------------------------------------------------
// The native batch: every sample of one publish interval in one message.

/** AWS IoT Core's largest MQTT message payload: 128 KiB. The local broker refuses larger ones too. */
export const MAX_MESSAGE_BYTES = 128 * 1024;

/** Most samples one batch may carry: 10 s at 400 Hz, about 120 KB, under the 128 KB MQTT limit. */
export const MAX_BATCH_SAMPLES = 4000;

const Offset = Schema.Number.pipe(
  Schema.int({ message: () => "an offset must be an integer" }),
  Schema.nonNegative({ message: () => "an offset must not be negative" }),
);

/** `[dt_ms, dn, x, y, z]` or `[dt_ms, dn, x, y, z, temperature]`, relative to `t0` and `n0`. */
const PackedSample = Schema.Union(
  Schema.Tuple(Offset, Offset, Acceleration, Acceleration, Acceleration),
  Schema.Tuple(Offset, Offset, Acceleration, Acceleration, Acceleration, Temperature),
);

const SampleBatchWire = Schema.Struct({
  v: Schema.Literal(1),
  t0: Schema.Number.pipe(
    Schema.int({ message: () => "t0 must be integer epoch milliseconds" }),
    Schema.nonNegative({ message: () => "t0 must not be negative" }),
  ),
  n0: Sequence,
  s: Schema.Array(PackedSample).pipe(
    Schema.minItems(1, { message: () => "a batch holds at least one sample" }),
    // What `minItems(1)` checked, as the type: the decoded samples are non-empty too.
    Schema.filter(Arr.isNonEmptyReadonlyArray),
    Schema.maxItems(MAX_BATCH_SAMPLES, {
      message: () => `a batch holds at most ${MAX_BATCH_SAMPLES} samples`,
    }),
  ),
});

const SampleBatchType = Schema.Struct({ samples: Schema.NonEmptyArray(Sample) });

/**
 * The native batch. On the wire each sample is a short array of offsets from
 * the batch's first time `t0` and first sequence `n0`, so ten samples take
 * about 300 bytes: `{"v":1,"t0":1732000000000,"n0":120,"s":[[0,0,0.01,-0.02,0.98],[100,1,...]]}`.
 * Decoded, every sample has its own timestamp, sequence and magnitude.
 */
export const SampleBatch = Schema.transform(SampleBatchWire, SampleBatchType, {
  strict: true,
  decode: (w) => {
    const samples = Arr.map(w.s, (p) => {
      const [dt, dn, x, y, z, temperature] = p;
      return {
        timestamp: w.t0 + dt,
        sequence: w.n0 + dn,
        x,
        y,
        z,
        magnitude: magnitudeOf(x, y, z),
        ...(temperature !== undefined ? { temperature } : {}),
      };
    });
    return { samples };
  },
  encode: (b) => {
    let t0 = Number.POSITIVE_INFINITY;
    let n0 = Number.POSITIVE_INFINITY;
    for (const s of b.samples) {
      if (s.timestamp < t0) t0 = s.timestamp;
      if (s.sequence < n0) n0 = s.sequence;
    }
    const s = Arr.map(b.samples, (x) =>
      x.temperature === undefined
        ? ([x.timestamp - t0, x.sequence - n0, x.x, x.y, x.z] as const)
        : ([x.timestamp - t0, x.sequence - n0, x.x, x.y, x.z, x.temperature] as const),
    );
    return { v: 1 as const, t0, n0, s };
  },
});
export type SampleBatch = typeof SampleBatch.Type;

/** What a sensor-data message holds, whichever of the two formats it came in. */
export type SensorPayload =
  | { readonly _tag: "SampleBatch"; readonly samples: ReadonlyArray<Sample> }
  | { readonly _tag: "SingleReading"; readonly reading: SingleReading };

const decodeBatch = Schema.decodeUnknownEither(SampleBatch, { errors: "all" });
const decodeReading = Schema.decodeUnknownEither(SingleReading, { errors: "all" });

/** Decodes a parsed sensor-data message; never throws. */
export const decodeSensorPayload = (
  input: unknown,
): Either.Either<SensorPayload, InvalidPayload> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Either.left(
      new InvalidPayload({
        reason: "sensor payload must be a JSON object",
        issues: [
          {
            path: "",
            message: `got ${input === null ? "null" : Array.isArray(input) ? "an array" : typeof input}`,
          },
        ],
      }),
    );
  }
  if ("s" in input || "v" in input) {
    const fast = wellFormedBatch(input as Record<string, unknown>);
    if (fast !== undefined) return Either.right({ _tag: "SampleBatch", samples: fast });
    return decodeGuarded("invalid sample batch", input, decodeBatch).pipe(
      Either.map((b): SensorPayload => ({ _tag: "SampleBatch", samples: b.samples })),
    );
  }
  const fast = wellFormedReading(input as Record<string, unknown>);
  if (fast !== undefined) return Either.right({ _tag: "SingleReading", reading: fast });
  return decodeGuarded("invalid sensor reading", input, decodeReading).pipe(
    Either.map((reading): SensorPayload => ({ _tag: "SingleReading", reading })),
  );
};

const isAcceleration = (v: unknown): v is number =>
  typeof v === "number" && v >= -MAX_G && v <= MAX_G;
const isOptional = (v: unknown, lo: number, hi: number): v is number | undefined =>
  v === undefined || (typeof v === "number" && v >= lo && v <= hi);

/**
 * The hot path for the reading every existing device sends a few times a
 * second: plain checks of the common, valid case (millisecond timestamp) in a
 * fraction of the schema's cost. Anything it does not accept goes through
 * `SingleReading`, which gives the precise rejection. A property test checks
 * that whatever this accepts the schema accepts with the same result.
 */
export const wellFormedReading = (o: Record<string, unknown>): SingleReading | undefined => {
  const { x, y, z, magnitude, temperature, sequence, timestamp } = o;
  if (!isAcceleration(x) || !isAcceleration(y) || !isAcceleration(z)) return undefined;
  if (typeof sequence !== "number" || !Number.isSafeInteger(sequence) || sequence < 0)
    return undefined;
  if (!isOptional(magnitude, 0, MAX_MAGNITUDE) || !isOptional(temperature, -60, 150))
    return undefined;
  if (timestamp !== undefined && !isSampleTime(timestamp)) return undefined;
  if (magnitude !== undefined && !magnitudeAgrees(magnitude, x, y, z)) return undefined;
  const reading: { -readonly [K in keyof SingleReading]: SingleReading[K] } = {
    x,
    y,
    z,
    magnitude: magnitude ?? magnitudeOf(x, y, z),
    sequence,
  };
  if (temperature !== undefined) reading.temperature = temperature;
  if (timestamp !== undefined) reading.timestamp = timestamp;
  return reading;
};

const isOffset = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isTemperature = (v: unknown): v is number => typeof v === "number" && v >= -60 && v <= 150;

/**
 * The hot path for the native batch, which every message of a current device
 * and every stored item is: `SampleBatch` through `effect/Schema` costs about
 * 12 µs a sample, which alone made a 10,000-sample timeline page take ~130 ms
 * to unpack. Plain checks of the valid case, in the same spirit as
 * `wellFormedReading`; anything it does not accept goes through the schema for
 * the precise rejection. A property test checks it accepts nothing the schema
 * rejects and returns the same samples.
 */
export const wellFormedBatch = (
  o: Record<string, unknown>,
): readonly [Sample, ...Array<Sample>] | undefined => {
  const { v, t0, n0, s } = o;
  if (v !== 1 || !isOffset(t0) || !isOffset(n0) || !Array.isArray(s)) return undefined;
  const n = s.length;
  if (n === 0 || n > MAX_BATCH_SAMPLES) return undefined;
  const samples = new Array<Sample>(n);
  for (let i = 0; i < n; i++) {
    const p: unknown = s[i];
    if (!Array.isArray(p) || (p.length !== 5 && p.length !== 6)) return undefined;
    const [dt, dn, x, y, z, temperature] = p as Array<unknown>;
    if (!isOffset(dt) || !isOffset(dn)) return undefined;
    if (!isAcceleration(x) || !isAcceleration(y) || !isAcceleration(z)) return undefined;
    const timestamp = t0 + dt;
    const sequence = n0 + dn;
    if (!isSampleTime(timestamp) || !Number.isSafeInteger(sequence)) return undefined;
    const sample: { -readonly [K in keyof Sample]: Sample[K] } = {
      timestamp,
      sequence,
      x,
      y,
      z,
      magnitude: magnitudeOf(x, y, z),
    };
    if (p.length === 6) {
      if (!isTemperature(temperature)) return undefined;
      sample.temperature = temperature;
    }
    samples[i] = sample;
  }
  return Arr.isNonEmptyArray(samples) ? samples : undefined;
};

/** JSON text (or bytes) to a sensor payload; not-JSON is a typed rejection too. */
export const parseSensorPayload = (
  raw: string | Uint8Array,
): Either.Either<SensorPayload, InvalidPayload> => {
  const json = parseJson(raw);
  return Either.isLeft(json) ? Either.left(json.left) : decodeSensorPayload(json.right);
};

/** The samples of a payload, with `receivedAt` for a reading that carries no time. */
export const samplesOf = (payload: SensorPayload, receivedAt: number): ReadonlyArray<Sample> =>
  payload._tag === "SampleBatch"
    ? payload.samples
    : [sampleFromReading(payload.reading, receivedAt)];

/** Builds the native batch's wire JSON for samples (the device side). */
export const encodeSampleBatch = (samples: ReadonlyArray<Sample>): string => {
  const [first, ...rest] = samples;
  if (first === undefined) throw new RangeError("a batch holds at least one sample");
  return JSON.stringify(Schema.encodeSync(SampleBatch)({ samples: [first, ...rest] }));
};
