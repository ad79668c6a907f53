import { Effect, Either } from "effect";
import { attribute, type StoredSegment } from "../attribution.js";
import { DEFAULT_RETENTION_MS } from "../enrichment.js";
import type { EpochMillis } from "../ids.js";
import {
  beyondLimits,
  type IngestLimits,
  ingestLimits,
  tooManySegments,
} from "../ingest-limits.js";
import { Clock } from "../ports/clock.js";
import { DeadLetters } from "../ports/dead-letters.js";
import type { EventStoreUnavailable } from "../ports/event-store.js";
import { AssignmentIntervals } from "../ports/intervals.js";
import { type SegmentsNotWritten, SensorStore } from "../ports/sensor-store.js";
import type { StorageUnavailable } from "../ports/storage.js";
import { InvalidPayload, rawPayload } from "../telemetry/json.js";
import {
  decodeSensorMessage,
  type InboundMessage,
  receivedAtOr,
  type SensorMessage,
} from "../telemetry/sensor-message.js";

export interface IngestSettings {
  /** Where sensor data arrives; `{device_id}` is the device level. */
  readonly topicTemplate: string;
  /** How long samples are kept after they were taken; 30 days unless set. */
  readonly retentionMs?: number;
  /** What one message may claim (`ingestLimits(retentionMs)` unless set). */
  readonly limits?: Partial<IngestLimits>;
  /** Recorded with dead letters: `iot-rule`, `mqtt`, … */
  readonly source: string;
}

/** What became of one message. */
export type IngestOutcome =
  | {
      readonly _tag: "Stored";
      readonly message: SensorMessage;
      /** Who the samples went to (`UNASSIGNED` for nobody), in the order met. */
      readonly patientIds: ReadonlyArray<string>;
      /** Items the samples make (a message split at an assignment boundary makes two). */
      readonly segments: number;
      /** Items written now; the others were stored already (a redelivery). */
      readonly written: number;
    }
  | { readonly _tag: "Rejected"; readonly rejection: InvalidPayload };

export type IngestFailure = StorageUnavailable | SegmentsNotWritten | EventStoreUnavailable;

type Prepared =
  | { readonly _tag: "Rejected"; readonly rejection: InvalidPayload }
  | {
      readonly _tag: "Attributed";
      readonly message: SensorMessage;
      readonly segments: ReadonlyArray<StoredSegment>;
    };

/**
 * The ingest, wherever messages come from (the Lambda behind the IoT rule,
 * the local stack's broker): each message is decoded, its samples attributed
 * by event time with the device's intervals, and what the messages hold is
 * stored with one write. A message that cannot be read is kept as a dead
 * letter with why, never dropped and never a failure of the rest; a storage
 * failure fails the whole call, which is safe to retry (writes are
 * idempotent).
 */
export const ingestMessages = (
  messages: ReadonlyArray<InboundMessage>,
  settings: IngestSettings,
): Effect.Effect<
  ReadonlyArray<IngestOutcome>,
  IngestFailure,
  AssignmentIntervals | SensorStore | DeadLetters | Clock
> =>
  Effect.gen(function* () {
    const now = yield* (yield* Clock).now;
    const retentionMs = settings.retentionMs ?? DEFAULT_RETENTION_MS;
    const limits = ingestLimits(retentionMs, settings.limits);
    // Devices whose intervals are not at hand load them side by side.
    const prepared = yield* Effect.forEach(messages, (m) => prepare(m, settings, limits, now), {
      concurrency: 8,
    });
    const segments = prepared.flatMap((p) => (p._tag === "Attributed" ? p.segments : []));
    const writes = segments.length > 0 ? yield* (yield* SensorStore).write(segments) : [];
    let next = 0;
    return yield* Effect.forEach(prepared, (p, i) => {
      if (p._tag === "Rejected") return Effect.succeed<IngestOutcome>(p);
      const mine = writes.slice(next, next + p.segments.length);
      next += p.segments.length;
      if (mine.includes("conflict"))
        // Its key holds other samples: nothing stored is replaced, and the message is kept.
        return reject(messages[i] as InboundMessage, conflicting, settings, now);
      return Effect.succeed<IngestOutcome>({
        _tag: "Stored",
        message: p.message,
        patientIds: [...new Set(p.segments.map((s) => s.patientId))],
        segments: p.segments.length,
        written: mine.filter((w) => w === "written").length,
      });
    });
  });

const conflicting = new InvalidPayload({
  reason: "conflicts with stored samples",
  issues: [
    {
      path: "",
      message:
        "samples are stored under this message's time and sequence already, with other values; stored samples are never replaced",
    },
  ],
});

/** Decodes and attributes one message, or keeps it as a dead letter. */
const prepare = (
  message: InboundMessage,
  settings: IngestSettings,
  limits: IngestLimits,
  now: EpochMillis,
): Effect.Effect<Prepared, IngestFailure, AssignmentIntervals | DeadLetters> =>
  Effect.gen(function* () {
    const decoded = decodeSensorMessage(message, { topicTemplate: settings.topicTemplate, now });
    if (Either.isLeft(decoded)) return yield* reject(message, decoded.left, settings, now);
    const m = decoded.right;
    const beyond = beyondLimits(m, limits);
    if (beyond) return yield* reject(message, beyond, settings, now);
    const intervals = yield* (yield* AssignmentIntervals).recent(m.deviceId);
    const segments = attribute(m.deviceId, m.samples, intervals, {
      retentionMs: settings.retentionMs ?? DEFAULT_RETENTION_MS,
    });
    const tooMany = tooManySegments(segments.length, limits);
    if (tooMany) return yield* reject(message, tooMany, settings, now);
    return { _tag: "Attributed" as const, message: m, segments };
  });

/** Keeps a message as a dead letter with why. */
const reject = (
  message: InboundMessage,
  rejection: InvalidPayload,
  settings: IngestSettings,
  now: EpochMillis,
) =>
  Effect.flatMap(DeadLetters, (letters) =>
    letters.put({
      receivedAt: receivedAtOr(message, now),
      source: settings.source,
      topic: message.topic,
      clientId: message.clientId,
      ...rawPayload(message.payload),
      reason: rejection.reason,
      issues: rejection.issues,
    }),
  ).pipe(Effect.as({ _tag: "Rejected" as const, rejection }));
