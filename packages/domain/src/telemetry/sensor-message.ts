import { Either, Option, Schema } from "effect";
import { DeviceId, type EpochMillis } from "../ids.js";
import { type Sample, SampleTime } from "../sample.js";
import { parseDeviceId } from "../topics.js";
import { decodeGuarded, InvalidPayload, parseJson } from "./json.js";
import { decodeSensorPayload, samplesOf, WireTime } from "./sensor-payload.js";

/**
 * A sensor-data message as it reaches the cloud, before anything is believed:
 * from a broker (topic, the publisher's client id, when it arrived, the bytes)
 * or from an IoT rule (its event split into the fields the rule SQL adds and
 * the device's own JSON).
 */
export interface InboundMessage {
  /** The topic it was published on; null when the rule gives none (the historical rule). */
  readonly topic: string | null;
  /** The publisher's MQTT client id, when known. */
  readonly clientId: string | null;
  /** When the broker received it (the rule's `timestamp()`), epoch ms; undefined when not given. Checked here. */
  readonly receivedAt: unknown;
  /** The bytes or text published, or the JSON value a rule has already parsed. */
  readonly payload: unknown;
}

/** What one message holds once decoded: whose samples, and when it arrived. */
export interface SensorMessage {
  readonly deviceId: DeviceId;
  readonly topic: string | null;
  readonly clientId: string | null;
  readonly receivedAt: EpochMillis;
  readonly samples: ReadonlyArray<Sample>;
  readonly format: "batch" | "single" | "historical";
}

/**
 * The historical IoT rule's output: one reading, flattened, with the device id
 * in the body. A timestamp below 10^11 is epoch seconds.
 */
const HistoricalReading = Schema.Struct({
  device_id: DeviceId,
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

/** A receive time can stand in for a sample's time, so it must be one (the domain's `SampleTime`). */
const isReceiveTime = Schema.is(SampleTime);

/** When the message arrived: its `receivedAt` when that is a time, else `now`. */
export const receivedAtOr = (message: InboundMessage, now: EpochMillis): EpochMillis =>
  isReceiveTime(message.receivedAt) ? message.receivedAt : now;

/**
 * Decodes one sensor-data message; never throws. The device is the one the
 * topic names (`topicTemplate`), and must be the publisher when the client id
 * is known; a historical flattened reading (no topic) names its device in the
 * body, and must come from it too. A reading without a time of its own is
 * dated when it arrived (`receivedAt`, or `now` when the message gives none).
 */
export const decodeSensorMessage = (
  message: InboundMessage,
  options: { readonly topicTemplate: string; readonly now: EpochMillis },
): Either.Either<SensorMessage, InvalidPayload> => {
  const { topic, clientId } = message;
  // The rule's timestamp() is always a time; anything else is not what the rule sent,
  // and samples without a time of their own would take it as theirs.
  if (message.receivedAt !== undefined && !isReceiveTime(message.receivedAt)) {
    return Either.left(
      rejected(
        "invalid received_at",
        "received_at",
        `${shown(message.receivedAt)} is not epoch milliseconds between 2020 and 2100`,
      ),
    );
  }
  const receivedAt = receivedAtOr(message, options.now);
  const { payload } = message;
  const parsed =
    typeof payload === "string" || payload instanceof Uint8Array
      ? parseJson(payload)
      : Either.right(payload);
  if (Either.isLeft(parsed)) return Either.left(parsed.left);
  const body = parsed.right;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    // Without a topic, what arrived is the rule's event itself.
    return Either.left(
      rejected(
        `${topic === null ? "event" : "payload"} must be a JSON object`,
        "",
        `got ${body === null ? "null" : Array.isArray(body) ? "an array" : typeof body}`,
      ),
    );
  }
  const fields = body as Record<string, unknown>;

  // The older system's flattened reading (its rule's output, or what a legacy publisher
  // sends through today's rule): the device names itself in the body.
  if ("accel_x" in fields || (topic === null && "device_id" in fields))
    return decodeFlattened(fields, { ...message, receivedAt }, options);
  if (topic === null)
    return Either.left(
      rejected("event has no topic", "topic", "the rule must add topic() AS topic"),
    );

  const deviceId = parseDeviceId(options.topicTemplate, topic);
  if (Option.isNone(deviceId)) {
    return Either.left(
      rejected("unknown topic", "topic", `${topic} does not match ${options.topicTemplate}`),
    );
  }
  if (clientId !== null && clientId !== deviceId.value) {
    return Either.left(
      rejected(
        "device id mismatch between topic and client id",
        "client_id",
        `client ${clientId} published to ${topic}`,
      ),
    );
  }
  return decodeSensorPayload(fields).pipe(
    Either.map(
      (decoded): SensorMessage => ({
        deviceId: deviceId.value,
        topic,
        clientId,
        receivedAt,
        samples: samplesOf(decoded, receivedAt),
        format: decoded._tag === "SampleBatch" ? "batch" : "single",
      }),
    ),
  );
};

/**
 * A flattened reading, `{device_id, timestamp, accel_x, accel_y, accel_z,
 * magnitude?, temperature?, sequence, ttl?}`: valid when the device it names
 * is the one the topic names (when there is a topic) and the publisher (when
 * the client id is known).
 */
const decodeFlattened = (
  fields: Readonly<Record<string, unknown>>,
  message: Omit<InboundMessage, "receivedAt"> & { readonly receivedAt: EpochMillis },
  options: { readonly topicTemplate: string },
): Either.Either<SensorMessage, InvalidPayload> =>
  decodeGuarded("invalid historical reading", fields, decodeHistorical).pipe(
    Either.flatMap((h) => {
      if (message.topic !== null) {
        const onTopic = parseDeviceId(options.topicTemplate, message.topic);
        if (Option.isNone(onTopic))
          return Either.left(
            rejected(
              "unknown topic",
              "topic",
              `${message.topic} does not match ${options.topicTemplate}`,
            ),
          );
        if (onTopic.value !== h.device_id)
          return Either.left(
            rejected(
              "device id mismatch between topic and device_id",
              "device_id",
              `a reading of ${h.device_id} on ${message.topic}`,
            ),
          );
      }
      return message.clientId !== null && message.clientId !== h.device_id
        ? Either.left(
            rejected(
              "device id mismatch between device_id and client id",
              "client_id",
              `client ${message.clientId} sent a reading of ${h.device_id}`,
            ),
          )
        : Either.right(h);
    }),
    Either.flatMap((h) =>
      // The same checks as a device reading (range, sequence, magnitude within 10%).
      decodeSensorPayload({
        timestamp: h.timestamp,
        sequence: h.sequence,
        x: h.accel_x,
        y: h.accel_y,
        z: h.accel_z,
        ...(h.magnitude !== undefined ? { magnitude: h.magnitude } : {}),
        ...(h.temperature !== undefined && h.temperature !== null
          ? { temperature: h.temperature }
          : {}),
      }).pipe(
        Either.map(
          (decoded): SensorMessage => ({
            deviceId: h.device_id,
            topic: message.topic,
            clientId: message.clientId,
            receivedAt: message.receivedAt,
            samples: samplesOf(decoded, message.receivedAt),
            format: "historical",
          }),
        ),
      ),
    ),
  );

/** Fields the recommended rule SQL adds to the device's JSON. */
const RULE_FIELDS: ReadonlySet<string> = new Set(["topic", "client_id", "received_at"]);

/**
 * What an IoT rule invokes the ingest with, as a message: the recommended
 * rule SQL (`SELECT *, topic() AS topic, clientId() AS client_id, timestamp()
 * AS received_at FROM '{prefix}/+/sensor/data'`) gives the device's JSON plus
 * those fields; the historical rule gives a flattened reading and no topic.
 * Any other value is kept as the payload, for the decoder to refuse.
 */
export const messageFromRuleEvent = (event: unknown): InboundMessage => {
  let value = event;
  if (typeof value === "string") {
    const json = parseJson(value);
    if (Either.isLeft(json))
      return { topic: null, clientId: null, receivedAt: undefined, payload: event };
    value = json.right;
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    return { topic: null, clientId: null, receivedAt: undefined, payload: value };
  const o = value as Record<string, unknown>;
  // fromEntries defines properties: a `__proto__` key stays a key, never a prototype.
  const payload = Object.fromEntries(Object.entries(o).filter(([k]) => !RULE_FIELDS.has(k)));
  return {
    topic: typeof o.topic === "string" ? o.topic : null,
    clientId: typeof o.client_id === "string" ? o.client_id : null,
    receivedAt: o.received_at,
    payload,
  };
};

/** A value as JSON for a rejection's message; as text when JSON cannot hold it. */
const shown = (x: unknown): string => {
  try {
    return JSON.stringify(x) ?? String(x);
  } catch {
    return String(x);
  }
};

const rejected = (reason: string, path: string, message: string) =>
  new InvalidPayload({ reason, issues: [{ path, message }] });
