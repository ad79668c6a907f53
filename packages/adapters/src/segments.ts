import { InvalidCursor, type Sample, type StoredSegment, segmentKey } from "@medusa/domain";
import { Either } from "effect";

// How stored segments are shaped and paged, whatever holds them: the DynamoDB
// sensor store and its in-memory twin share these, so they answer alike.

/**
 * No item holds samples spread over more than this; longer segments are split
 * on write. A range read can then start its key range this much before the
 * range and still find every item that reaches into it.
 */
export const MAX_ITEM_SPAN_MS = 2 * 60_000;

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

/** A cursor back; anything this store could not have returned is an `InvalidCursor`. */
export const decodeTimelineCursor = (s: string): Either.Either<TimelineCursor, InvalidCursor> => {
  try {
    const c = JSON.parse(Buffer.from(s, "base64url").toString("utf8")) as TimelineCursor;
    if (typeof c.t === "number" && typeof c.d === "string" && Number.isInteger(c.n) && c.n >= 0)
      return Either.right(c);
  } catch {
    // fall through
  }
  return Either.left(new InvalidCursor({ reason: "cursor is not one this store returned" }));
};
