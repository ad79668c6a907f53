import {
  DEFAULT_RETENTION_MS,
  DeadLetters,
  type EpochMillis,
  type EventStore,
  type EventStoreUnavailable,
  enrich,
  InvalidPayload,
  type SegmentsNotWritten,
  SensorStore,
  type StorageUnavailable,
  type StoredSegment,
  segmentKey,
  topicTemplates,
} from "@medusa/domain";
import { Effect, Either } from "effect";
import { IntervalCache } from "./interval-cache.js";
import { decodeRuleEvent, receivedAtOf, type SensorMessage } from "./rule-event.js";

export interface IngestOptions {
  /** Where sensor data arrives; `{device_id}` is the device level. */
  readonly topicTemplate?: string;
  readonly retentionMs?: number;
  readonly cache?: IntervalCache;
  readonly now?: () => number;
  /** Recorded with dead letters: `iot-rule`, `mqtt`, … */
  readonly source?: string;
}

/** One message as an MQTT broker delivers it to a subscriber or a rule. */
export interface MqttMessage {
  readonly topic: string;
  readonly clientId: string;
  readonly receivedAt: number;
  readonly payload: Uint8Array | string;
}

const rejectedAs = (reason: string, e: unknown) =>
  new InvalidPayload({
    reason,
    issues: [{ path: "", message: e instanceof Error ? e.message : String(e) }],
  });

/** The historical function's result shape, with counts. */
export interface IngestResult {
  readonly statusCode: 200 | 400;
  readonly body: string;
}

export type IngestFailure = StorageUnavailable | SegmentsNotWritten | EventStoreUnavailable;

/**
 * Keys and attribution of recently written items, so a message delivered
 * twice to one container (QoS 1 redelivery) is not written twice. Skipping is
 * safe: the item would be written with exactly the content it already has,
 * unless re-attribution has since rewritten it, with newer intervals.
 */
export class RecentWrites {
  private readonly seen = new Map<string, string>();
  constructor(private readonly capacity = 20_000) {}
  private static key(s: StoredSegment) {
    return `${s.deviceId}\u0000${s.timestamp}`;
  }
  private static signature(s: StoredSegment) {
    return `${s.samples.length}/${s.samples[0]?.sequence}/${s.samples.at(-1)?.sequence}/${s.patientId}/${s.assignmentTimestamp}/${s.attributedVersion}`;
  }
  isRepeat(s: StoredSegment): boolean {
    return this.seen.get(RecentWrites.key(s)) === RecentWrites.signature(s);
  }
  remember(segments: ReadonlyArray<StoredSegment>): void {
    for (const s of segments) {
      this.seen.delete(RecentWrites.key(s));
      this.seen.set(RecentWrites.key(s), RecentWrites.signature(s));
    }
    while (this.seen.size > this.capacity)
      this.seen.delete(this.seen.keys().next().value as string);
  }
}

/**
 * Builds the ingest function shared by the Lambda handler and the local
 * stack: decode, attribute by event time with the device's (cached)
 * intervals, write idempotently. Bad input becomes a dead letter and a 400
 * result; it never throws. Storage failures fail the effect, so the IoT
 * rule's error action sees them.
 */
export const makeIngest = (options: IngestOptions = {}) => {
  const topicTemplate = options.topicTemplate ?? topicTemplates().sensorData;
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const now = options.now ?? Date.now;
  const cache = options.cache ?? new IntervalCache(undefined, now);
  const recent = new RecentWrites();
  const source = options.source ?? "iot-rule";

  /** Keeps what could not be ingested, with where it came from when that is known. */
  const deadLetter = (
    event: unknown,
    error: InvalidPayload,
    from: { topic: string | null; clientId: string | null; receivedAt: number } = fromEvent(event),
  ) =>
    Effect.gen(function* () {
      const letters = yield* DeadLetters;
      yield* letters.put({
        receivedAt: from.receivedAt as EpochMillis,
        source,
        topic: from.topic,
        clientId: from.clientId,
        ...rawPayload(event),
        reason: error.reason,
        issues: error.issues,
      });
      return {
        statusCode: 400 as const,
        body: JSON.stringify({ status: "rejected", reason: error.reason, issues: error.issues }),
      };
    });

  const fromEvent = (event: unknown) => {
    const o = typeof event === "object" && event !== null ? (event as Record<string, unknown>) : {};
    return {
      topic: typeof o.topic === "string" ? o.topic : null,
      clientId: typeof o.client_id === "string" ? o.client_id : null,
      receivedAt: receivedAtOf(o, now),
    };
  };

  /** Decodes and attributes one event: the segments to store, or the dead letter's result. */
  const prepare = (event: unknown) =>
    Effect.gen(function* () {
      const decoded = decodeRuleEvent(event, { topicTemplate, now });
      if (Either.isLeft(decoded))
        return { rejected: yield* deadLetter(event, decoded.left) } as const;
      const message = decoded.right;
      const { intervals, version } = yield* cache.get(message.deviceId);
      const segments: Array<StoredSegment> = enrich(message.deviceId, message.samples, intervals, {
        retentionMs,
      }).map((s) => ({ ...s, timestamp: segmentKey(s.samples), attributedVersion: version }));
      return { message, segments } as const;
    });

  const storedResult = (
    message: SensorMessage,
    segments: ReadonlyArray<StoredSegment>,
    written: number,
  ): IngestResult => {
    const patients = [...new Set(segments.map((s) => s.patientId))];
    return {
      statusCode: 200 as const,
      body: JSON.stringify({
        device_id: message.deviceId,
        patient_id: patients.length === 1 ? patients[0] : patients,
        status: "stored",
        format: message.format,
        samples: message.samples.length,
        segments: segments.length,
        written,
      }),
    };
  };

  const ingest = (
    event: unknown,
  ): Effect.Effect<IngestResult, IngestFailure, EventStore | SensorStore | DeadLetters> =>
    Effect.map(
      Effect.flatMap(prepare(event), (p) => storeAll([p])),
      ([result]) => result as IngestResult,
    );

  /** Stores what the prepared events hold with one write; each event gets its own result. */
  const storeAll = (prepared: ReadonlyArray<Prepared>) =>
    Effect.gen(function* () {
      const fresh = prepared.map((p) =>
        p.rejected ? [] : p.segments.filter((s) => !recent.isRepeat(s)),
      );
      const all = fresh.flat();
      if (all.length > 0) {
        const store = yield* SensorStore;
        yield* store.write(all);
        recent.remember(all);
      }
      return prepared.map((p, i) =>
        p.rejected ? p.rejected : storedResult(p.message, p.segments, fresh[i]?.length ?? 0),
      );
    });
  type Prepared = Effect.Effect.Success<ReturnType<typeof prepare>>;

  /**
   * Several events, their segments stored together (BatchWriteItem takes 25
   * items a request): for a transport that delivers messages in batches — the
   * local stack under load, or an IoT rule → SQS → Lambda pipeline. Each event
   * gets its own result; a storage failure fails the whole batch, which is
   * safe to retry (writes are idempotent).
   */
  const ingestMany = (
    events: ReadonlyArray<unknown>,
  ): Effect.Effect<
    ReadonlyArray<IngestResult>,
    IngestFailure,
    EventStore | SensorStore | DeadLetters
  > =>
    // Devices not in the cache load their intervals side by side.
    Effect.flatMap(Effect.forEach(events, prepare, { concurrency: 8 }), storeAll);

  /**
   * MQTT messages as a broker delivers them, shaped the way the recommended
   * rule SQL shapes them (the device's JSON object plus `topic`, `client_id`,
   * `received_at`), then as `ingestMany`. A payload that is not JSON never
   * reaches a rule's function; here it is kept as a dead letter with its
   * topic and client. The local stack's ingest runs on this.
   */
  const ingestMessages = (messages: ReadonlyArray<MqttMessage>) =>
    Effect.flatMap(
      Effect.forEach(
        messages,
        (m) => {
          const from = { topic: m.topic, clientId: m.clientId, receivedAt: m.receivedAt };
          const text =
            typeof m.payload === "string" ? m.payload : Buffer.from(m.payload).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch (e) {
            return Effect.map(
              deadLetter(m.payload, rejectedAs("payload is not JSON", e), from),
              (rejected) => ({ rejected }) as Prepared,
            );
          }
          // Only an object gets the rule's fields; anything else (a string holding
          // JSON, a number) must not be read as an event of its own, whose
          // device id nobody checked against the publisher.
          if (typeof json !== "object" || json === null || Array.isArray(json))
            return Effect.map(
              deadLetter(
                m.payload,
                new InvalidPayload({
                  reason: "payload must be a JSON object",
                  issues: [
                    { path: "", message: `got ${Array.isArray(json) ? "an array" : typeof json}` },
                  ],
                }),
                from,
              ),
              (rejected) => ({ rejected }) as Prepared,
            );
          return prepare({
            ...json,
            topic: m.topic,
            client_id: m.clientId,
            received_at: m.receivedAt,
          });
        },
        { concurrency: 8 },
      ),
      storeAll,
    );

  return { ingest, ingestMany, ingestMessages, cache };
};

/** A payload as text to keep: UTF-8 when it is, else base64; anything else as JSON. */
export const rawPayload = (
  event: unknown,
): { payload: string; payloadEncoding: "utf8" | "base64" } => {
  if (typeof event === "string") return { payload: event, payloadEncoding: "utf8" };
  if (event instanceof Uint8Array) {
    const text = Buffer.from(event).toString("utf8");
    return Buffer.from(text, "utf8").equals(Buffer.from(event))
      ? { payload: text, payloadEncoding: "utf8" }
      : { payload: Buffer.from(event).toString("base64"), payloadEncoding: "base64" };
  }
  try {
    return { payload: JSON.stringify(event) ?? String(event), payloadEncoding: "utf8" };
  } catch {
    return { payload: String(event), payloadEncoding: "utf8" };
  }
};
