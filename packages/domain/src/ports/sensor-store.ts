import { Context, type Effect, Schema } from "effect";
import type { SegmentKey, StoredSegment } from "../attribution.js";
import type { Segment } from "../enrichment.js";
import type { DeviceId, EpochMillis, PatientId } from "../ids.js";
import type { Sample } from "../sample.js";
import type { StorageUnavailable, TimeRange } from "./storage.js";

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
    failed: Schema.Array(Schema.Struct({ deviceId: Schema.String, key: Schema.Number })),
    reason: Schema.String,
  },
) {
  override get message(): string {
    return `${this.failed.length} segment(s) not written: ${this.reason}`;
  }
}

/** A timeline cursor this store did not hand out. */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", {
  reason: Schema.String,
}) {}

/**
 * What became of one segment given to `write`: stored; already stored with
 * exactly these samples (a redelivery), so nothing was written; or its key
 * holds other samples, which stay as they are (a conflict).
 */
export type SegmentWrite = "written" | "unchanged" | "conflict";

/** Packed motion samples, attributed to patients. */
export class SensorStore extends Context.Tag("@medusa/SensorStore")<
  SensorStore,
  {
    /**
     * Writes each segment where its key is free; never replaces stored samples
     * (`SegmentWrite`). What became of each segment, in order.
     */
    readonly write: (
      segments: ReadonlyArray<StoredSegment>,
    ) => Effect.Effect<ReadonlyArray<SegmentWrite>, SegmentsNotWritten | StorageUnavailable>;
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
    /**
     * The time of the device's newest sample, whoever it belongs to, or null
     * when none is stored: its newest item, one small read (the gap detector
     * and the fleet view ask, so a sample costs no write of its own for this).
     */
    readonly lastSampleAt: (
      deviceId: DeviceId,
    ) => Effect.Effect<EpochMillis | null, StorageUnavailable>;
    /** Re-attribution: write `add`, then delete the keys in `remove` that `add` did not overwrite. */
    readonly replace: (
      deviceId: DeviceId,
      remove: ReadonlyArray<SegmentKey>,
      add: ReadonlyArray<StoredSegment>,
    ) => Effect.Effect<void, SegmentsNotWritten | StorageUnavailable>;
    /**
     * A patient's samples from every device, in `range`, a page at a time: by
     * stored item (its key), then device, then time within the item. So one
     * device's samples come in time order; those of two devices worn at once
     * interleave item by item, not sample by sample.
     */
    readonly patientTimeline: (
      patientId: PatientId,
      range: TimeRange,
      page: { readonly limit: number; readonly cursor?: string },
    ) => Effect.Effect<TimelinePage, InvalidCursor | StorageUnavailable>;
  }
>() {}

export type SensorStoreService = Context.Tag.Service<SensorStore>;
