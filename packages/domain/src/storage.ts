import { type Brand, Context, type Effect, Schema } from "effect";
import type { Segment } from "./enrichment.js";
import type { DeviceId, EpochMillis, PatientId } from "./ids.js";
import type { AssignmentInterval } from "./projections.js";
import type { Sample } from "./sample.js";

/** A store could not be reached or answered with an error (not a business rule). */
export class StorageUnavailable extends Schema.TaggedError<StorageUnavailable>()(
  "StorageUnavailable",
  { store: Schema.String, operation: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `${this.store} ${this.operation} failed: ${this.reason}`;
  }
}

/**
 * The device–patient mapping: the read model derived from the assignment
 * events (written in the same transaction as each commit), shaped like the
 * historical table that existing tools query.
 */
export class AssignmentReadModel extends Context.Tag("@medusa/AssignmentReadModel")<
  AssignmentReadModel,
  {
    /** A device's intervals, oldest first. */
    readonly deviceIntervals: (
      deviceId: DeviceId,
    ) => Effect.Effect<ReadonlyArray<AssignmentInterval>, StorageUnavailable>;
    /** The device's assignment now, or null: one row read, however long its history. */
    readonly currentAssignment: (
      deviceId: DeviceId,
    ) => Effect.Effect<AssignmentInterval | null, StorageUnavailable>;
    /** Every interval naming the patient, across devices, oldest first. */
    readonly patientIntervals: (
      patientId: PatientId,
    ) => Effect.Effect<ReadonlyArray<AssignmentInterval>, StorageUnavailable>;
  }
>() {}

/** `[start, end)` in epoch milliseconds. */
export interface TimeRange {
  readonly start: number;
  readonly end: number;
}

/**
 * A stored segment's sort key: its earliest sample's time in milliseconds,
 * plus that sample's sequence number modulo 1,000 as thousandths of a
 * millisecond. Two messages of one device that start in the same millisecond
 * (historical readings carry whole seconds; readings without a time share a
 * receive time) so keep apart instead of overwriting each other, and the same
 * message always gets the same key. A double tells three decimals apart below
 * 2^42 ms, the year 2109.
 */
export type SegmentKey = number & Brand.Brand<"SegmentKey">;

/** The key of a segment holding `samples` (at least one). */
export const segmentKey = (
  samples: ReadonlyArray<Pick<Sample, "timestamp" | "sequence">>,
): SegmentKey => {
  let first = samples[0] as Pick<Sample, "timestamp" | "sequence">;
  for (const x of samples) if (x.timestamp < first.timestamp) first = x;
  return (first.timestamp + (first.sequence % 1000) / 1000) as SegmentKey;
};

/**
 * The greatest key a segment can have whose earliest sample lies before `end`:
 * the inclusive upper bound of a key range (`BETWEEN`) that ends at `end`.
 */
export const lastKeyBefore = (end: number): number => end - 0.0005;

/**
 * A segment as stored. Its key is `(deviceId, timestamp)`, `timestamp` being
 * its `segmentKey`, so writing the same segment again overwrites it
 * (idempotent ingest). `attributedVersion` is the device stream version whose
 * intervals attributed it, so re-attribution can tell stale items.
 */
export interface StoredSegment extends Segment {
  readonly timestamp: SegmentKey;
  readonly attributedVersion: number;
}

/** A sample of one device, with the patient it is attributed to. */
export interface DeviceSample extends Sample {
  readonly patientId: Segment["patientId"];
}

/** The samples of `segments` that lie in `range`, ordered by time (then sequence). */
export const samplesWithin = (
  segments: ReadonlyArray<Segment>,
  range: TimeRange,
): ReadonlyArray<DeviceSample> =>
  segments
    .flatMap((s) =>
      s.samples
        .filter((x) => x.timestamp >= range.start && x.timestamp < range.end)
        .map((x) => ({ ...x, patientId: s.patientId })),
    )
    .sort((a, b) => a.timestamp - b.timestamp || a.sequence - b.sequence);

/** A sample in a patient's timeline, with the device it came from. */
export interface TimelineSample extends Sample {
  readonly deviceId: DeviceId;
}

export interface TimelinePage {
  readonly samples: ReadonlyArray<TimelineSample>;
  /** Opaque; null on the last page. */
  readonly nextCursor: string | null;
}

/** Some segments could not be written before the deadline: exactly which. */
export class SegmentsNotWritten extends Schema.TaggedError<SegmentsNotWritten>()(
  "SegmentsNotWritten",
  {
    failed: Schema.Array(Schema.Struct({ deviceId: Schema.String, timestamp: Schema.Number })),
    reason: Schema.String,
  },
) {
  override get message(): string {
    return `${this.failed.length} segment(s) not written: ${this.reason}`;
  }
}

export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", {
  reason: Schema.String,
}) {}

/** Packed motion samples, attributed to patients. */
export class SensorStore extends Context.Tag("@medusa/SensorStore")<
  SensorStore,
  {
    /** Idempotent upsert by key. */
    readonly write: (
      segments: ReadonlyArray<StoredSegment>,
    ) => Effect.Effect<void, SegmentsNotWritten | StorageUnavailable>;
    /** A device's segments holding any sample in `range`, by key: whole items, as re-attribution rewrites them. */
    readonly deviceSegments: (
      deviceId: DeviceId,
      range: TimeRange,
    ) => Effect.Effect<ReadonlyArray<StoredSegment>, StorageUnavailable>;
    /** A device's samples in `range` and nothing outside it, ordered by time. */
    readonly deviceSamples: (
      deviceId: DeviceId,
      range: TimeRange,
    ) => Effect.Effect<ReadonlyArray<DeviceSample>, StorageUnavailable>;
    /** Re-attribution: write `add`, then delete the keys in `remove` that `add` did not overwrite. */
    readonly replace: (
      deviceId: DeviceId,
      remove: ReadonlyArray<number>,
      add: ReadonlyArray<StoredSegment>,
    ) => Effect.Effect<void, SegmentsNotWritten | StorageUnavailable>;
    /**
     * A patient's samples from every device, in `range`, a page at a time: by
     * stored item (its earliest sample's time), then device, then time within
     * the item. So one device's samples come in time order; those of two
     * devices worn at once interleave item by item, not sample by sample.
     */
    readonly patientTimeline: (
      patientId: PatientId,
      range: TimeRange,
      page: { readonly limit: number; readonly cursor?: string },
    ) => Effect.Effect<TimelinePage, InvalidCursor | StorageUnavailable>;
  }
>() {}

/** A message that could not be ingested, kept with why. */
export interface DeadLetter {
  readonly receivedAt: EpochMillis;
  /** Where it came from, e.g. `iot-rule`, `mqtt`, `api`. */
  readonly source: string;
  readonly topic: string | null;
  readonly clientId: string | null;
  /** The raw payload as received (UTF-8 text, or base64 when it was not text). */
  readonly payload: string;
  readonly payloadEncoding: "utf8" | "base64";
  readonly reason: string;
  readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>;
}

export class DeadLetters extends Context.Tag("@medusa/DeadLetters")<
  DeadLetters,
  {
    readonly put: (letter: DeadLetter) => Effect.Effect<void, StorageUnavailable>;
    /** Newest first. */
    readonly recent: (
      limit: number,
    ) => Effect.Effect<ReadonlyArray<DeadLetter>, StorageUnavailable>;
  }
>() {}

export type AssignmentReadModelService = Context.Tag.Service<AssignmentReadModel>;
export type SensorStoreService = Context.Tag.Service<SensorStore>;
export type DeadLettersService = Context.Tag.Service<DeadLetters>;
