import { Schema } from "effect";
import { type EnrichOptions, enrich, type Segment } from "./enrichment.js";
import type { AssignmentInterval } from "./projections.js";
import type { Sample } from "./sample.js";

/**
 * A stored segment's sort key: its earliest sample's time in milliseconds,
 * plus that sample's sequence number modulo 1,000 as thousandths of a
 * millisecond. Two messages of one device that start in the same millisecond
 * (historical readings carry whole seconds; readings without a time share a
 * receive time) so keep apart instead of overwriting each other, and the same
 * message always gets the same key. A double tells three decimals apart below
 * 2^42 ms, the year 2109.
 */
export const SegmentKey = Schema.Number.pipe(Schema.brand("SegmentKey"));
export type SegmentKey = typeof SegmentKey.Type;

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
 * A segment as stored, under `(deviceId, key)`, so writing the same segment
 * again overwrites it (idempotent ingest). `attributedVersion` is the device
 * stream version whose intervals attributed it, so re-attribution can tell
 * stale items.
 */
export interface StoredSegment extends Segment {
  readonly key: SegmentKey;
  readonly attributedVersion: number;
}

/** A device's assignment intervals, oldest first, and the stream version they come from. */
export interface DeviceIntervals {
  readonly intervals: ReadonlyArray<AssignmentInterval>;
  readonly version: number;
}

/**
 * Samples of one device as they are stored: attributed by event time
 * (`enrich`), each run keyed, and marked with the stream version that
 * attributed it. The ingest and re-attribution both store what this gives.
 */
export const attribute = (
  deviceId: Segment["deviceId"],
  samples: ReadonlyArray<Sample>,
  by: DeviceIntervals,
  options: EnrichOptions = {},
): ReadonlyArray<StoredSegment> =>
  enrich(deviceId, samples, by.intervals, options).map((s) => ({
    ...s,
    key: segmentKey(s.samples),
    attributedVersion: by.version,
  }));
