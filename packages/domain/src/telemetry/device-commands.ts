import { Either, Schema } from "effect";
import { EpochMillis } from "../ids.js";
import { decodeGuarded, type InvalidPayload, parseJson } from "./json.js";

export const MIN_SAMPLE_RATE_HZ = 1;
export const MAX_SAMPLE_RATE_HZ = 400;
/**
 * Above 50 Hz the agent reads the ADXL345's FIFO, which runs only at the
 * chip's own rates; up to 50 Hz it polls, at any rate.
 */
export const FIFO_SAMPLE_RATES_HZ: ReadonlyArray<number> = [100, 200, 400];

/** A rate the agent can keep without losing samples. */
export const isSupportedSampleRate = (hz: number): boolean =>
  Number.isFinite(hz) &&
  hz >= MIN_SAMPLE_RATE_HZ &&
  (hz <= 50 || FIFO_SAMPLE_RATES_HZ.includes(hz));

export const SAMPLE_RATE_RULE = `from ${MIN_SAMPLE_RATE_HZ} to 50 Hz, or ${FIFO_SAMPLE_RATES_HZ.join(", ")} Hz`;

/** A sample rate the agent supports (see `isSupportedSampleRate`). */
export const SampleRateHz = Schema.Number.pipe(
  Schema.filter((hz) => isSupportedSampleRate(hz) || `sample_rate_hz must be ${SAMPLE_RATE_RULE}`),
);
export const MIN_PUBLISH_INTERVAL_MS = 100;
export const MAX_PUBLISH_INTERVAL_MS = 60_000;

const RequestId = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(128));

/** Cloud-to-device commands, on `{prefix}/{device_id}/commands/...`. */
export const DeviceCommand = Schema.Union(
  Schema.Struct({ request_id: RequestId, command: Schema.Literal("ping") }),
  Schema.Struct({
    request_id: RequestId,
    command: Schema.Literal("set_sample_rate"),
    sample_rate_hz: SampleRateHz,
  }),
  Schema.Struct({
    request_id: RequestId,
    command: Schema.Literal("set_publish_interval"),
    publish_interval_ms: Schema.Number.pipe(
      Schema.int(),
      Schema.between(MIN_PUBLISH_INTERVAL_MS, MAX_PUBLISH_INTERVAL_MS, {
        message: () =>
          `publish_interval_ms must be between ${MIN_PUBLISH_INTERVAL_MS} and ${MAX_PUBLISH_INTERVAL_MS}`,
      }),
    ),
  }),
  Schema.Struct({
    request_id: RequestId,
    command: Schema.Literal("identify"),
    duration_s: Schema.optionalWith(Schema.Number.pipe(Schema.between(1, 600)), { exact: true }),
  }),
);
export type DeviceCommand = typeof DeviceCommand.Type;

/** An object key that cannot reach a prototype when decoded. */
const PlainKey = Schema.String.pipe(
  Schema.filter((k) => k !== "__proto__", { message: () => "__proto__ is not a valid key" }),
);

/** The device's answer on `{prefix}/{device_id}/commands/response`. */
export const CommandResponse = Schema.Union(
  Schema.Struct({
    request_id: RequestId,
    ok: Schema.Literal(true),
    command: Schema.String,
    timestamp: EpochMillis,
    result: Schema.optionalWith(Schema.Record({ key: PlainKey, value: Schema.Unknown }), {
      exact: true,
    }),
  }),
  Schema.Struct({
    /** Null when the request was too malformed to carry an id. */
    request_id: Schema.NullOr(RequestId),
    ok: Schema.Literal(false),
    timestamp: EpochMillis,
    error: Schema.Struct({ code: Schema.String, message: Schema.String }),
  }),
);
export type CommandResponse = typeof CommandResponse.Type;

const decodeCommand = Schema.decodeUnknownEither(DeviceCommand, { errors: "all" });

/** Decodes a command message (JSON text or bytes); never throws. */
export const parseDeviceCommand = (
  raw: string | Uint8Array,
): Either.Either<DeviceCommand, InvalidPayload> => {
  const json = parseJson(raw);
  if (Either.isLeft(json)) return Either.left(json.left);
  return decodeGuarded("invalid command", json.right, decodeCommand);
};
