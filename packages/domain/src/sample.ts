import { Schema } from "effect";
import { EpochMillis } from "./ids.js";

/** The ADXL345's full-scale range in g; nothing outside it is a real reading. */
export const MAX_G = 16;
/** Longest possible acceleration vector inside the range. */
export const MAX_MAGNITUDE = MAX_G * Math.sqrt(3);
/**
 * Sample times must fall in this window. Anything else is a device with an
 * unset clock (1970) or a unit mix-up (seconds, microseconds).
 */
export const EARLIEST_SAMPLE_TIME = Date.UTC(2020, 0, 1);
export const LATEST_SAMPLE_TIME = Date.UTC(2100, 0, 1);

const finite = (what: string) =>
  Schema.Number.pipe(Schema.finite({ message: () => `${what} must be a finite number` }));

export const Acceleration = finite("acceleration").pipe(
  Schema.between(-MAX_G, MAX_G, {
    message: () => `acceleration must be within the ADXL345's ±${MAX_G} g range`,
  }),
);

export const Magnitude = finite("magnitude").pipe(
  Schema.between(0, MAX_MAGNITUDE, {
    message: () => `magnitude must be between 0 and ${MAX_MAGNITUDE.toFixed(2)} g`,
  }),
);

export const Temperature = finite("temperature").pipe(
  Schema.between(-60, 150, { message: () => "temperature must be between -60 and 150 °C" }),
);

export const Sequence = Schema.Number.pipe(
  Schema.int({ message: () => "sequence must be an integer" }),
  Schema.between(0, Number.MAX_SAFE_INTEGER, { message: () => "sequence must not be negative" }),
);

export const SampleTime = EpochMillis.pipe(
  Schema.filter((t) => t >= EARLIEST_SAMPLE_TIME && t < LATEST_SAMPLE_TIME, {
    message: () => "sample time must be epoch milliseconds between 2020 and 2100",
  }),
);

/** Whether `t` passes `SampleTime`'s checks: the hot paths' plain test of a device's time, typed as the schema's. */
export const isSampleTime = (t: unknown): t is typeof SampleTime.Type =>
  typeof t === "number" &&
  Number.isSafeInteger(t) &&
  t >= EARLIEST_SAMPLE_TIME &&
  t < LATEST_SAMPLE_TIME;

/**
 * One motion sample as the domain works with it: decoded, in g, with its own
 * event time and the device's sequence number. `timestampSource` is
 * `received_at` when the device sent no time and the cloud's receive time
 * stands in for it.
 */
export const Sample = Schema.Struct({
  timestamp: SampleTime,
  sequence: Sequence,
  x: Acceleration,
  y: Acceleration,
  z: Acceleration,
  magnitude: Magnitude,
  temperature: Schema.optionalWith(Temperature, { exact: true }),
  timestampSource: Schema.optionalWith(Schema.Literal("received_at"), { exact: true }),
});
export type Sample = typeof Sample.Type;

export const magnitudeOf = (x: number, y: number, z: number): number =>
  Math.sqrt(x * x + y * y + z * z);

/**
 * Devices round their readings, so a reported magnitude may differ from the
 * computed one; more than 10% (or 0.02 g near zero) means the payload is wrong.
 */
export const magnitudeAgrees = (reported: number, x: number, y: number, z: number): boolean => {
  const computed = magnitudeOf(x, y, z);
  return Math.abs(reported - computed) <= Math.max(0.1 * computed, 0.02);
};
