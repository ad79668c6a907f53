import { Either, Schema } from "effect";
import { DeviceId, EpochMillis } from "../ids.js";
import { decodeGuarded, InvalidPayload, parseJson } from "../telemetry/json.js";

/**
 * AWS IoT Core's lifecycle events: the broker publishes one on
 * `$aws/events/presence/connected/{clientId}` when a client connects and one
 * on `$aws/events/presence/disconnected/{clientId}` when it goes
 * (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html).
 * They "might be sent out of order" and duplicated; `versionNumber` orders
 * them (see `comparePresence`). Client ids containing `#` or `+` get none.
 */
export const PRESENCE_TOPIC_PREFIX = "$aws/events/presence/";

/** What an IoT rule (or a service) selects to get every connect and disconnect. */
export const PRESENCE_TOPIC_FILTER = "$aws/events/presence/+/+";

export const PresenceEventType = Schema.Literal("connected", "disconnected");
export type PresenceEventType = typeof PresenceEventType.Type;

/** The topic AWS publishes a client's event on. */
export const presenceTopic = (eventType: PresenceEventType, clientId: string): string =>
  `${PRESENCE_TOPIC_PREFIX}${eventType}/${clientId}`;

/** Whether a client id gets lifecycle events at all (AWS: none for ids containing `#` or `+`). */
export const hasLifecycleEvents = (clientId: string): boolean =>
  !clientId.includes("#") && !clientId.includes("+");

/**
 * The disconnect reasons AWS documents. AWS may add more: a reason not listed
 * here is still taken (upper-case words), so a new one never loses an event.
 */
export const DOCUMENTED_DISCONNECT_REASONS = [
  "AUTH_ERROR",
  "CLIENT_INITIATED_DISCONNECT",
  "CLIENT_ERROR",
  "CONNECTION_LOST",
  "DUPLICATE_CLIENTID",
  "FORBIDDEN_ACCESS",
  "MQTT_KEEP_ALIVE_TIMEOUT",
  "SERVER_ERROR",
  "SERVER_INITIATED_DISCONNECT",
  "API_INITIATED_DISCONNECT",
  "THROTTLED",
  "WEBSOCKET_TTL_EXPIRATION",
  "CUSTOMAUTH_TTL_EXPIRATION",
  "UNKNOWN",
] as const;

export const DisconnectReason = Schema.String.pipe(
  Schema.pattern(/^[A-Z][A-Z_]{0,63}$/, {
    message: () => "a disconnect reason is an upper-case word such as CONNECTION_LOST",
  }),
);
export type DisconnectReason = typeof DisconnectReason.Type;

/** AWS's `versionNumber`: a long, increasing per client-id connection (skipping values as it likes). */
const VersionNumber = Schema.Number.pipe(
  Schema.int({ message: () => "versionNumber is an integer" }),
  Schema.nonNegative({ message: () => "versionNumber is not negative" }),
);

const Fields = {
  /** The client id, which for a device is its thing name: the device id. */
  clientId: DeviceId,
  /** AWS: "an approximation of when the event occurred", ±2 minutes. */
  timestamp: EpochMillis,
  sessionIdentifier: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(256)),
  principalIdentifier: Schema.String.pipe(Schema.maxLength(512)),
  versionNumber: VersionNumber,
  /** Only with the exclusive-thing feature. */
  thingName: Schema.optionalWith(Schema.String, { exact: true }),
};

export const DeviceConnected = Schema.Struct({
  ...Fields,
  eventType: Schema.Literal("connected"),
  ipAddress: Schema.optionalWith(Schema.String.pipe(Schema.maxLength(64)), { exact: true }),
});
export type DeviceConnected = typeof DeviceConnected.Type;

export const DeviceDisconnected = Schema.Struct({
  ...Fields,
  eventType: Schema.Literal("disconnected"),
  clientInitiatedDisconnect: Schema.Boolean,
  disconnectReason: DisconnectReason,
});
export type DeviceDisconnected = typeof DeviceDisconnected.Type;

/** One lifecycle event of a device, as AWS publishes it (fields AWS adds later are ignored). */
export const PresenceEvent = Schema.Union(DeviceConnected, DeviceDisconnected);
export type PresenceEvent = typeof PresenceEvent.Type;

/** A lifecycle message as it reaches the cloud: from the broker, or from an IoT rule (`topic()` added). */
export interface PresenceMessage {
  /** `$aws/events/presence/{eventType}/{clientId}`; null when the rule gives none. */
  readonly topic: string | null;
  /** The bytes or text published, or the JSON value a rule has already parsed. */
  readonly payload: unknown;
}

const decodeEvent = Schema.decodeUnknownEither(PresenceEvent, { errors: "all" });

const rejected = (reason: string, path: string, message: string) =>
  new InvalidPayload({ reason, issues: [{ path, message }] });

/**
 * Decodes one lifecycle message; never throws. The event must be what its
 * topic says it is (the same event type and client id); a client id that is
 * not a device id (a thing name) is refused, so a status is only ever a device's.
 */
export const decodePresenceMessage = (
  message: PresenceMessage,
): Either.Either<PresenceEvent, InvalidPayload> => {
  const { payload } = message;
  const parsed =
    typeof payload === "string" || payload instanceof Uint8Array
      ? parseJson(payload)
      : Either.right(payload);
  if (Either.isLeft(parsed)) return Either.left(parsed.left);
  const body = parsed.right;
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return Either.left(
      rejected(
        "a lifecycle event must be a JSON object",
        "",
        `got ${body === null ? "null" : Array.isArray(body) ? "an array" : typeof body}`,
      ),
    );
  // The rule's own field is the topic, not part of AWS's event.
  const { topic: _ruleTopic, ...fields } = body as Record<string, unknown>;
  const event = decodeGuarded("invalid lifecycle event", fields, decodeEvent);
  if (Either.isLeft(event)) return event;
  const e = event.right;
  if (message.topic !== null) {
    const expected = presenceTopic(e.eventType, e.clientId);
    if (message.topic !== expected)
      return Either.left(
        rejected(
          "lifecycle event does not match its topic",
          "topic",
          `a ${e.eventType} event of ${e.clientId} comes on ${expected}, not ${message.topic}`,
        ),
      );
  }
  return Either.right(e);
};

/**
 * A lifecycle event as an IoT rule delivers it (`SELECT *, topic() AS topic
 * FROM '$aws/events/presence/+/+'`): the event's fields and the topic.
 */
export const presenceMessageFromRuleEvent = (event: unknown): PresenceMessage => ({
  topic:
    typeof event === "object" &&
    event !== null &&
    typeof (event as { topic?: unknown }).topic === "string"
      ? (event as { topic: string }).topic
      : null,
  payload: event,
});
