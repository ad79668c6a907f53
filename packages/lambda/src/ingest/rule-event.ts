import {
  type DeviceId,
  DeviceId as DeviceIdSchema,
  decodeSensorPayload,
  InvalidPayload,
  invalid,
  parseDeviceId,
  type Sample,
  SampleTime,
  samplesOf,
  WireTime,
} from "@medusa/domain";
import { Either, Option, Schema } from "effect";

/**
 * The historical IoT rule's output: one reading, flattened, with the device id
 * in the body. A timestamp below 10^11 is epoch seconds.
 */
const HistoricalReading = Schema.Struct({
  device_id: DeviceIdSchema,
  timestamp: WireTime,
  accel_x: Schema.Number,
  accel_y: Schema.Number,
  accel_z: Schema.Number,
  magnitude: Schema.optionalWith(Schema.Number, { exact: true }),
  temperature: Schema.optionalWith(Schema.NullOr(Schema.Number), { exact: true }),
  sequence: Schema.Number,
  ttl: Schema.optionalWith(Schema.Number, { exact: true }),
});
const decodeHistorical = Schema.decodeUnknownEither(HistoricalReading, { errors: "all" });

/** What one rule invocation carries once decoded. */
export interface SensorMessage {
  readonly deviceId: DeviceId;
  readonly topic: string | null;
  readonly clientId: string | null;
  readonly receivedAt: number;
  readonly samples: ReadonlyArray<Sample>;
  readonly format: "batch" | "single" | "historical";
}

/** Fields the recommended rule SQL adds to the device's JSON. */
const RULE_FIELDS = ["topic", "client_id", "received_at"] as const;

/**
 * Decodes what the IoT rule sends:
 * `SELECT *, topic() AS topic, clientId() AS client_id, timestamp() AS received_at FROM 'medusa/+/sensor/data'`
 * (the device's JSON plus those three fields), or the historical rule's
 * flattened reading. The device id comes from the topic, and must match the
 * MQTT client id when the rule gives one.
 */
export const decodeRuleEvent = (
  event: unknown,
  options: { readonly topicTemplate: string; readonly now: () => number },
): Either.Either<SensorMessage, InvalidPayload> => {
  let input = event;
  if (typeof input === "string") {
    try {
      input = JSON.parse(input);
    } catch (e) {
      return Either.left(
        rejected("payload is not JSON", "", e instanceof Error ? e.message : String(e)),
      );
    }
  }
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return Either.left(
      rejected(
        "event must be a JSON object",
        "",
        `got ${Array.isArray(input) ? "an array" : typeof input}`,
      ),
    );
  }
  const o = input as Record<string, unknown>;
  // The rule's timestamp() is always a time; anything else here is not what the rule sent,
  // and samples without a time of their own would take it as theirs.
  if (o.received_at !== undefined && !isReceiveTime(o.received_at)) {
    return Either.left(
      rejected(
        "invalid received_at",
        "received_at",
        `${shown(o.received_at)} is not epoch milliseconds between 2020 and 2100`,
      ),
    );
  }
  const receivedAt = receivedAtOf(o, options.now);
  const clientId = typeof o.client_id === "string" ? o.client_id : null;

  if (o.topic === undefined && "accel_x" in o) {
    return decodeHistorical(o).pipe(
      Either.mapLeft((e) => invalid("invalid historical reading", e)),
      Either.flatMap((h) =>
        clientId !== null && clientId !== h.device_id
          ? Either.left(
              rejected(
                "device id mismatch between device_id and client id",
                "client_id",
                `client ${clientId} sent a reading of ${h.device_id}`,
              ),
            )
          : Either.right(h),
      ),
      Either.flatMap((h) => {
        const sample = {
          timestamp: h.timestamp,
          sequence: h.sequence,
          x: h.accel_x,
          y: h.accel_y,
          z: h.accel_z,
          ...(h.magnitude !== undefined ? { magnitude: h.magnitude } : {}),
          ...(h.temperature !== undefined && h.temperature !== null
            ? { temperature: h.temperature }
            : {}),
        };
        // The same checks as a device reading (range, sequence, magnitude within 10%).
        return decodeSensorPayload(sample).pipe(
          Either.map((payload) => ({
            deviceId: h.device_id,
            topic: null,
            clientId,
            receivedAt,
            samples: samplesOf(payload, receivedAt),
            format: "historical" as const,
          })),
        );
      }),
    );
  }

  if (typeof o.topic !== "string") {
    return Either.left(
      rejected("event has no topic", "topic", "the rule must add topic() AS topic"),
    );
  }
  const deviceId = parseDeviceId(options.topicTemplate, o.topic);
  if (Option.isNone(deviceId)) {
    return Either.left(
      rejected("unknown topic", "topic", `${o.topic} does not match ${options.topicTemplate}`),
    );
  }
  if (clientId !== null && clientId !== deviceId.value) {
    return Either.left(
      rejected(
        "device id mismatch between topic and client id",
        "client_id",
        `client ${clientId} published to ${o.topic}`,
      ),
    );
  }
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o))
    if (!(RULE_FIELDS as ReadonlyArray<string>).includes(k)) body[k] = v;
  return decodeSensorPayload(body).pipe(
    Either.map((payload) => ({
      deviceId: deviceId.value,
      topic: o.topic as string,
      clientId,
      receivedAt,
      samples: samplesOf(payload, receivedAt),
      format: payload._tag === "SampleBatch" ? ("batch" as const) : ("single" as const),
    })),
  );
};

/** A value as JSON for a rejection's message; as text when JSON cannot hold it. */
const shown = (x: unknown): string => {
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
};

/** A receive time can stand in for a sample's time, so it must be one (the domain's `SampleTime`). */
const isReceiveTime = Schema.is(SampleTime);

/** The event's `received_at` when it is a time (epoch ms, 2020–2100), else the clock's now. */
export const receivedAtOf = (
  event: Readonly<Record<string, unknown>>,
  now: () => number,
): number => (isReceiveTime(event.received_at) ? event.received_at : now());

const rejected = (reason: string, path: string, message: string) =>
  new InvalidPayload({ reason, issues: [{ path, message }] });
