import {
  type DeviceId,
  DeviceId as DeviceIdSchema,
  type DeviceSample,
  EARLIEST_SAMPLE_TIME,
  type EpochMillis,
  InvalidCursor,
  LATEST_SAMPLE_TIME,
  MAX_BATCH_SAMPLES,
  type Sample,
  type SegmentsNotWritten,
  type SegmentWrite,
  type StorageUnavailable,
  type StoredSegment,
  segmentKey,
  type TimeRange,
} from "@medusa/domain";
import { Effect, Either, Schema } from "effect";

// How stored segments are shaped and paged, whatever holds them: the DynamoDB
// sensor store and its in-memory twin share these, so they answer alike.

/**
 * No item holds samples spread over more than this; longer segments are split
 * on write. A range read can then start its key range this much before the
 * range and still find every item that reaches into it.
 */
export const MAX_ITEM_SPAN_MS = 2 * 60_000;

/**
 * The time of a device's newest sample as both stores read it: the newest
 * sample of its newest item (the item with the highest key). A device's
 * batches follow one another in time, so that is its newest sample; one read.
 */
export const newestSampleOf = (segment: StoredSegment): EpochMillis =>
  segment.samples.reduce((max, x) => Math.max(x.timestamp, max), 0) as EpochMillis;

/** Splits segments that span more than `MAX_ITEM_SPAN_MS`; keys every piece by its `segmentKey`. */
export const boundSpan = (segments: ReadonlyArray<StoredSegment>): ReadonlyArray<StoredSegment> =>
  segments.flatMap((s) => {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const x of s.samples) {
      if (x.timestamp < min) min = x.timestamp;
      if (x.timestamp > max) max = x.timestamp;
    }
    if (max - min <= MAX_ITEM_SPAN_MS) return [{ ...s, key: segmentKey(s.samples) }];
    const pieces: Array<StoredSegment> = [];
    let run: Array<Sample> = [];
    let lo = 0;
    let hi = 0;
    const flush = () => {
      if (run.length > 0) pieces.push({ ...s, samples: run, key: segmentKey(run) });
    };
    for (const x of s.samples) {
      if (
        run.length > 0 &&
        Math.max(hi, x.timestamp) - Math.min(lo, x.timestamp) > MAX_ITEM_SPAN_MS
      ) {
        flush();
        run = [];
      }
      if (run.length === 0) {
        lo = x.timestamp;
        hi = x.timestamp;
      }
      run.push(x);
      lo = Math.min(lo, x.timestamp);
      hi = Math.max(hi, x.timestamp);
    }
    flush();
    return pieces;
  });

/**
 * Where a timeline page ended: the segment key, the device, and the index of
 * the next sample in that segment. Opaque to callers; the in-memory twin uses
 * the same codec.
 */
export interface TimelineCursor {
  readonly t: number;
  readonly d: string;
  readonly n: number;
}

export const encodeTimelineCursor = (c: TimelineCursor): string =>
  Buffer.from(JSON.stringify(c)).toString("base64url");

const isDeviceId = Schema.is(DeviceIdSchema);

/**
 * A cursor back; anything this store could not have returned is an
 * `InvalidCursor` (a key outside any time a sample can have, a device id no
 * device can have, a sample index beyond any item), never a query for it.
 */
export const decodeTimelineCursor = (s: string): Either.Either<TimelineCursor, InvalidCursor> => {
  try {
    const c = JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as TimelineCursor;
    if (
      typeof c === "object" &&
      c !== null &&
      Number.isFinite(c.t) &&
      c.t >= EARLIEST_SAMPLE_TIME - MAX_ITEM_SPAN_MS &&
      c.t < LATEST_SAMPLE_TIME &&
      isDeviceId(c.d) &&
      Number.isSafeInteger(c.n) &&
      c.n >= 0 &&
      c.n <= MAX_BATCH_SAMPLES
    )
      return Either.right({ t: c.t, d: c.d, n: c.n });
  } catch {
    // fall through
  }
  return Either.left(new InvalidCursor({ reason: "cursor is not one this store returned" }));
};

/** The same reading: time, number, axes, temperature (magnitude follows from the axes). */
const sameSample = (a: Sample, b: Sample): boolean =>
  a.timestamp === b.timestamp &&
  a.sequence === b.sequence &&
  a.x === b.x &&
  a.y === b.y &&
  a.z === b.z &&
  a.temperature === b.temperature &&
  a.timestampSource === b.timestampSource;

const sampleId = (s: Sample) => `${s.timestamp}/${s.sequence}`;

/** How a store writes one item only where its key is free, and reads what it holds. */
export interface ConditionalWriter {
  /** `written`, the segment already under that key, or `throttled` once the store gave up. */
  readonly put: (
    piece: StoredSegment,
  ) => Effect.Effect<"written" | "throttled" | StoredSegment, StorageUnavailable>;
  readonly samples: (
    deviceId: DeviceId,
    range: TimeRange,
  ) => Effect.Effect<ReadonlyArray<DeviceSample>, StorageUnavailable>;
  readonly throttled: (
    keys: ReadonlyArray<{ readonly deviceId: string; readonly key: number }>,
  ) => SegmentsNotWritten;
}

/**
 * The ingest's write, the same for every store: each segment (split as items
 * are) is written only where its key is free. A key that holds the same
 * samples — a redelivery, perhaps split by re-attribution since — is
 * `unchanged`; one that holds other samples is a `conflict`, and what is
 * stored stays as it is: no message can replace samples already stored (a
 * device, or a forged message, rewriting a previous patient's record).
 */
export const writeIfAbsent = (
  segments: ReadonlyArray<StoredSegment>,
  writer: ConditionalWriter,
): Effect.Effect<ReadonlyArray<SegmentWrite>, SegmentsNotWritten | StorageUnavailable> =>
  Effect.gen(function* () {
    const pieces = segments.map((s) => boundSpan([s]));
    const outcomes = yield* Effect.forEach(
      pieces.flat(),
      (piece) =>
        Effect.flatMap(writer.put(piece), (r) =>
          r === "written" || r === "throttled"
            ? Effect.succeed(r)
            : samePieceStored(piece, r, writer),
        ),
      { concurrency: 16 },
    );
    const failed = pieces.flat().filter((_, i) => outcomes[i] === "throttled");
    if (failed.length > 0)
      return yield* writer.throttled(failed.map((s) => ({ deviceId: s.deviceId, key: s.key })));
    let next = 0;
    return pieces.map((ofSegment): SegmentWrite => {
      const mine = outcomes.slice(next, next + ofSegment.length);
      next += ofSegment.length;
      return mine.includes("conflict")
        ? "conflict"
        : mine.includes("written")
          ? "written"
          : "unchanged";
    });
  });

/** Whether every sample of `piece` is stored as it is: in `existing`, or (split since) across items. */
const samePieceStored = (
  piece: StoredSegment,
  existing: StoredSegment,
  writer: ConditionalWriter,
) => {
  const mine = new Map(piece.samples.map((x) => [sampleId(x), x]));
  const theirs = existing.samples;
  if (
    theirs.length === mine.size &&
    theirs.every((x) => {
      const m = mine.get(sampleId(x));
      return m !== undefined && sameSample(m, x);
    })
  )
    return Effect.succeed("unchanged" as const);
  // The item under this key holds a sample this piece does not: another message.
  if (theirs.some((x) => !mine.has(sampleId(x)))) return Effect.succeed("conflict" as const);
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const x of piece.samples) {
    start = Math.min(start, x.timestamp);
    end = Math.max(end, x.timestamp + 1);
  }
  return Effect.map(writer.samples(piece.deviceId, { start, end }), (stored) => {
    const byId = new Map(stored.map((x) => [sampleId(x), x]));
    return piece.samples.every((x) => {
      const s = byId.get(sampleId(x));
      return s !== undefined && sameSample(s, x);
    })
      ? ("unchanged" as const)
      : ("conflict" as const);
  });
};
