import type { MotionReading } from "@medusa/adapters/sensor";
import {
  EARLIEST_SAMPLE_TIME,
  LATEST_SAMPLE_TIME,
  MAX_BATCH_SAMPLES,
  magnitudeOf,
  Sample,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

/**
 * Samples per message at most: a packed sample is at most about 41 bytes of
 * JSON, so 2,500 stay near 100 KB, under AWS IoT Core's 128 KB message limit
 * (the domain accepts up to 4,000 from other producers).
 */
export const MAX_MESSAGE_SAMPLES = 2_500;

/**
 * Numbered samples the batcher holds at most while they cannot be appended to
 * the outbox (about 8 MB of memory): 2 minutes at 400 Hz, 83 minutes at 10 Hz.
 * Beyond it the oldest are dropped, as the outbox drops its oldest when full.
 */
export const MAX_PENDING_SAMPLES = 50_000;

/**
 * Sequence numbers reserved on disk at a time: a crash leaves a gap of at most
 * this many numbers (100 s at 10 Hz, 2.5 s at 400 Hz), never a reused one, and
 * the sequence file is written once per block rather than once per batch.
 */
export const SEQUENCE_BLOCK = 1_000;

/**
 * Why a reading could not become a sample: `clock`, its time is outside the
 * domain's window (a Pi without a set clock reads 1970 or 2000); `value`, an
 * acceleration that is not a number or outside ±16 g.
 */
export type RefusalReason = "clock" | "value";

/** Rounding to 0.1 mg keeps every bit the ADXL345 resolves (3.9 mg/LSB) and keeps JSON short. */
const round = (v: number) => Math.round(v * 10_000) / 10_000;

const isSample = Schema.is(Sample);
const validateSample = Schema.validateEither(Sample);

/** Why a candidate sample is not one the native batch can carry, in words for the log. */
const problemOf = (s: Sample): { reason: RefusalReason; problem: string } => {
  if (
    Number.isFinite(s.timestamp) &&
    (s.timestamp < EARLIEST_SAMPLE_TIME || s.timestamp >= LATEST_SAMPLE_TIME)
  ) {
    const when =
      Math.abs(s.timestamp) <= 8.64e15 ? new Date(s.timestamp).toISOString() : s.timestamp;
    return {
      reason: "clock",
      problem: `sample time ${when} is not between 2020 and 2100 (is the clock set?)`,
    };
  }
  const checked = validateSample(s);
  const [issue] = Either.isLeft(checked)
    ? ParseResult.ArrayFormatter.formatErrorSync(checked.left)
    : [];
  return {
    reason: "value",
    problem: `reading at ${s.timestamp} (x ${s.x}, y ${s.y}, z ${s.z}) is not a sample: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"}`,
  };
};

/**
 * Numbers readings with the device's sequence and cuts them into batches for
 * the native batch format. Every reading that can be a sample is kept: a
 * publish interval with more readings than one batch may hold gives several
 * batches. A reading that cannot be one (its time before 2020, a value out of
 * range) is refused before it is numbered, so it can never block the others,
 * and counted. Samples given back with `requeue` keep their numbers. At most
 * `maxPending` samples wait; beyond that the oldest are dropped and counted.
 */
export class Batcher {
  private pending: Array<Sample> = [];
  private next: number;
  /** Numbers below this one are reserved (on disk): the next one past it reserves a new block first. */
  private reserved: number;
  private readonly maxPending: number;
  private readonly reserve: ((upTo: number) => void) | undefined;
  private readonly block: number;
  /** Readings refused, by reason, ever. */
  readonly refused: Record<RefusalReason, number> = { clock: 0, value: 0 };
  /** Why the last reading was refused. */
  lastRefusal: string | undefined;
  /** Numbered samples dropped to stay within `maxPending`, ever. */
  dropped = 0;

  /**
   * With `reserve`, numbers are handed out in blocks of `block`: before the
   * first number of a block is given, `reserve(upTo)` is called with the end
   * of the block (it persists it, so a restart after a crash starts there).
   */
  constructor(
    firstSequence = 0,
    options: {
      readonly maxPending?: number;
      readonly reserve?: (upTo: number) => void;
      readonly block?: number;
    } = {},
  ) {
    this.next = firstSequence;
    this.reserved = options.reserve ? firstSequence : Number.POSITIVE_INFINITY;
    this.maxPending = options.maxPending ?? MAX_PENDING_SAMPLES;
    this.reserve = options.reserve;
    this.block = options.block ?? SEQUENCE_BLOCK;
  }

  /** Adds readings in the order the sensor gave them; returns how many became samples. */
  add(readings: ReadonlyArray<MotionReading>): number {
    let added = 0;
    for (const r of readings) {
      const x = round(r.x);
      const y = round(r.y);
      const z = round(r.z);
      const sample = {
        timestamp: Math.round(r.timestamp) as Sample["timestamp"],
        sequence: this.next,
        x,
        y,
        z,
        magnitude: magnitudeOf(x, y, z),
      };
      if (!isSample(sample)) {
        const { reason, problem } = problemOf(sample);
        this.refused[reason]++;
        this.lastRefusal = problem;
        continue;
      }
      if (this.next >= this.reserved) {
        this.reserved = this.next + this.block;
        this.reserve?.(this.reserved);
      }
      this.next++;
      this.pending.push(sample);
      added++;
    }
    this.bound();
    return added;
  }

  /**
   * Gives back samples taken earlier (an outbox append failed): they go before
   * everything added since, with the numbers they have.
   */
  requeue(samples: ReadonlyArray<Sample>): void {
    this.pending = [...samples, ...this.pending];
    this.bound();
  }

  get size(): number {
    return this.pending.length;
  }

  /** The sequence number the next reading will get. */
  get nextSequence(): number {
    return this.next;
  }

  /** The samples pending from sequence number `first` on, oldest first. */
  pendingFrom(first: number): ReadonlyArray<Sample> {
    return this.pending.filter((s) => s.sequence >= first);
  }

  /** Takes everything pending, in batches of at most `maxSamples`. */
  take(maxSamples = MAX_BATCH_SAMPLES): ReadonlyArray<ReadonlyArray<Sample>> {
    const all = this.pending;
    this.pending = [];
    const batches: Array<ReadonlyArray<Sample>> = [];
    for (let i = 0; i < all.length; i += maxSamples) batches.push(all.slice(i, i + maxSamples));
    return batches;
  }

  private bound() {
    const over = this.pending.length - this.maxPending;
    if (over <= 0) return;
    this.pending.splice(0, over);
    this.dropped += over;
  }
}
