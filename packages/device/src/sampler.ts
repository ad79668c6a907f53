// Over 350 lines on purpose: reading the sensor, the journal and sequence blocks share one clock and one crash story (README, "The outbox").
import { performance } from "node:perf_hooks";
import type { SampleJournalService, SampleOutboxService } from "@medusa/adapters/outbox";
import type { MotionSensorService } from "@medusa/adapters/sensor";
import { encodeSampleBatch, parseSensorPayload, type Sample, samplesOf } from "@medusa/domain";
import { Either } from "effect";
import { Batcher, MAX_MESSAGE_SAMPLES, MAX_PENDING_SAMPLES } from "./batcher.js";
import { AgentStopping, detached, errorText } from "./errors.js";
import type { SequenceStoreService } from "./sequence.js";

export interface SamplerOptions {
  readonly sensor: MotionSensorService;
  readonly outbox: SampleOutboxService;
  readonly sequence?: SequenceStoreService | undefined;
  /** Where samples wait durably while a publish interval longer than `JOURNAL_MS` runs. */
  readonly journal?: SampleJournalService | undefined;
  /** The topic the batches are appended for. */
  readonly topic: string;
  readonly sampleRateHz: number;
  readonly publishIntervalMs: number;
  /** Samples held in memory at most while outbox appends fail (default `MAX_PENDING_SAMPLES`). */
  readonly maxPendingSamples?: number | undefined;
  readonly log: (line: string) => void;
  /** After each flush: there may be new entries in the outbox to publish. */
  readonly onFlushed: () => void;
}

/** With a longer publish interval, the samples taken are written to the journal this often. */
export const JOURNAL_MS = 1_000;

/**
 * Sampling and batching. The sensor is drained on its own timer, which only
 * touches the sensor and memory: it never waits on the network. Each publish
 * interval turns the samples into native batches and appends them to the
 * durable outbox. Numbers are reserved on disk a block ahead (`Batcher`), and
 * with a publish interval longer than `JOURNAL_MS` the samples are written to
 * the journal every `JOURNAL_MS` until they are appended: a crash loses about
 * a second of samples and leaves a gap in the numbers, never a reused number.
 */
export class Sampler {
  private readonly batcher: Batcher;
  private rateHz: number;
  private intervalMs: number;
  private samplingTimer: NodeJS.Timeout | undefined;
  private publishTimer: NodeJS.Timeout | undefined;
  private journalTimer: NodeJS.Timeout | undefined;
  /** Every sample numbered below it is in the journal or the outbox. */
  private journaledNext = 0;
  /** The journal holds records not known to be in the outbox yet. */
  private journalDirty = false;
  /** The last reservation of sequence numbers failed (logged once until one succeeds). */
  private reserveFailed = false;
  /** When the publish timer last fired (monotonic ms): a new interval keeps this phase. */
  private lastTickAt = performance.now();
  private stopped = false;
  private samplesTaken = 0;
  /** Samples in batches that could not be encoded (never expected: each sample is checked when added). */
  private unencodable = 0;
  private sampling: Promise<void> | undefined;
  /** Flushes and journal writes, one at a time. */
  private flushing: Promise<void> = Promise.resolve();
  private readonly queued = { flush: false, journal: false };
  private rateChange: Promise<void> = Promise.resolve();
  /** What the last drop report covered, and when it was logged (monotonic ms). */
  private reported = { refused: 0, dropped: 0, at: Number.NEGATIVE_INFINITY };

  constructor(private readonly options: SamplerOptions) {
    this.rateHz = options.sampleRateHz;
    this.intervalMs = options.publishIntervalMs;
    const recovered = this.recoverJournal();
    const { sequence } = options;
    this.batcher = new Batcher(
      Math.max(sequence?.load() ?? 0, (recovered.at(-1)?.sequence ?? -1) + 1),
      {
        ...(options.maxPendingSamples !== undefined
          ? { maxPending: options.maxPendingSamples }
          : {}),
        ...(sequence ? { reserve: (upTo: number) => this.reserve(sequence, upTo) } : {}),
      },
    );
    this.batcher.requeue(recovered);
  }

  /**
   * The samples the journal kept from the last run and the outbox does not
   * have yet (a crash between an append and the journal's clearing leaves
   * them in both): they go first, with their numbers.
   */
  private recoverJournal(): ReadonlyArray<Sample> {
    const { journal, outbox, log } = this.options;
    const records = journal?.recovered() ?? [];
    if (records.length === 0) return [];
    const newest = outbox.newest();
    const appendedThrough = newest ? (samplesIn(newest.payload).at(-1)?.sequence ?? -1) : -1;
    const samples = records.flatMap(samplesIn).filter((s) => s.sequence > appendedThrough);
    this.journalDirty = true;
    const last = samples.at(-1);
    if (last) {
      this.journaledNext = last.sequence + 1;
      log(`${samplesText(samples)} read back from the journal`);
    }
    return samples;
  }

  private reserve(sequence: SequenceStoreService, upTo: number) {
    try {
      sequence.save(upTo);
      if (this.reserveFailed) this.options.log(`sequence numbers reserved again, up to ${upTo}`);
      this.reserveFailed = false;
    } catch (e) {
      if (!this.reserveFailed)
        this.options.log(
          `sequence numbers up to ${upTo} not reserved on disk, numbering goes on (after a crash now, numbers could be given again): ${errorText(e)}`,
        );
      this.reserveFailed = true;
    }
  }

  get sampleRateHz(): number {
    return this.rateHz;
  }

  get publishIntervalMs(): number {
    return this.intervalMs;
  }

  /** A sensor that is not there yet (bus error, wrong DEVID) shows in status and is retried by its driver. */
  startSensor(): Promise<void> {
    return this.options.sensor
      .start(this.rateHz)
      .catch((e) => this.options.log(`sensor not ready, retrying: ${errorText(e)}`));
  }

  /** Starts the drain, publish and journal timers. */
  start(): void {
    this.scheduleSampling();
    this.lastTickAt = performance.now();
    this.schedulePublishing();
    this.scheduleJournal();
  }

  /**
   * Stops the timers, takes what the sensor still holds and appends everything
   * pending (what cannot be appended goes to the journal), then persists the
   * exact next sequence number: a clean stop leaves no gap.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.publishTimer);
    clearInterval(this.samplingTimer);
    clearInterval(this.journalTimer);
    await this.sampling;
    await this.sample();
    await this.requestFlush();
    if (this.batcher.size > 0) await this.enqueue("journal", () => this.writeJournal());
    try {
      this.options.sequence?.save(this.batcher.nextSequence);
    } catch (e) {
      this.options.log(`next sequence number not persisted at stop: ${errorText(e)}`);
    }
    this.reportDrops(true);
  }

  stats() {
    return {
      samplesTaken: this.samplesTaken,
      /** Readings that could not be samples, never numbered: `clock`, a time before 2020 (or after 2100). */
      samplesRefused: { ...this.batcher.refused },
      /** Numbered samples dropped: over the in-memory bound while appends failed, or not encodable. */
      samplesDropped: this.batcher.dropped + this.unencodable,
      nextSequence: this.batcher.nextSequence,
    };
  }

  /** One rate change at a time, each compared with the rate the one before it left. */
  setSampleRate(hz: number): Promise<void> {
    const change = this.rateChange.then(() => this.applySampleRate(hz));
    this.rateChange = change.catch(() => {});
    return change;
  }

  setPublishInterval(ms: number): void {
    if (this.stopped) throw new AgentStopping();
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    this.schedulePublishing();
    this.scheduleJournal();
  }

  private async applySampleRate(hz: number) {
    if (this.stopped) throw new AgentStopping();
    if (hz === this.rateHz) return; // re-configuring the chip would only empty its FIFO
    await this.sample(); // what the chip holds at the old rate, before re-configuring empties it
    if (this.stopped) throw new AgentStopping();
    await this.options.sensor.setRate(hz);
    const before = drainIntervalMs(this.rateHz);
    this.rateHz = hz; // the sensor runs at it now, stopping or not
    if (drainIntervalMs(hz) !== before) this.scheduleSampling();
  }

  private scheduleSampling() {
    if (this.stopped) return;
    clearInterval(this.samplingTimer);
    this.samplingTimer = setInterval(
      () => detached("sensor drain", () => this.sample(), this.options.log),
      drainIntervalMs(this.rateHz),
    );
  }

  /**
   * Arms the publish timer. The first tick comes one (new) interval after the
   * last one, or at once when that is past: a shorter interval takes effect
   * without waiting out the old one, and re-arming never postpones a flush.
   */
  private schedulePublishing() {
    if (this.stopped) return;
    clearInterval(this.publishTimer);
    const tick = () => {
      this.lastTickAt = performance.now();
      detached("flush", () => this.requestFlush(), this.options.log);
    };
    const due = Math.max(0, this.lastTickAt + this.intervalMs - performance.now());
    this.publishTimer = setTimeout(() => {
      tick();
      if (!this.stopped) this.publishTimer = setInterval(tick, this.intervalMs);
    }, due);
  }

  /** The journal's timer runs only while batches wait longer than `JOURNAL_MS`. */
  private scheduleJournal() {
    clearInterval(this.journalTimer);
    this.journalTimer = undefined;
    if (this.stopped || !this.options.journal || this.intervalMs <= JOURNAL_MS) return;
    this.journalTimer = setInterval(
      () =>
        detached(
          "journal",
          () => this.enqueue("journal", () => this.writeJournal()),
          this.options.log,
        ),
      JOURNAL_MS,
    );
  }

  /** Writes the samples numbered since the last write to the journal. */
  private writeJournal() {
    const { journal } = this.options;
    const samples = this.batcher.pendingFrom(this.journaledNext);
    const last = samples.at(-1);
    if (!journal || !last) return;
    for (let i = 0; i < samples.length; i += MAX_MESSAGE_SAMPLES)
      journal.write(encodeSampleBatch(samples.slice(i, i + MAX_MESSAGE_SAMPLES)));
    this.journaledNext = last.sequence + 1;
    this.journalDirty = true;
  }

  /** One drain of the sensor at a time: a slow bus read is not overlapped by the next tick. */
  private sample(): Promise<void> {
    this.sampling ??= this.options.sensor
      .drain()
      .then((readings) => {
        this.samplesTaken += this.batcher.add(readings);
      })
      .finally(() => {
        this.sampling = undefined;
      });
    return this.sampling;
  }

  private requestFlush(): Promise<void> {
    return this.enqueue("flush", () => this.flush());
  }

  /**
   * Flushes and journal writes run one at a time (a journal write never sees
   * samples a flush is appending), and at most one of each waits: a slow or
   * stuck append does not pile them up (the batcher's bound covers the samples).
   */
  private enqueue(kind: "flush" | "journal", work: () => Promise<void> | void): Promise<void> {
    if (!this.queued[kind]) {
      this.queued[kind] = true;
      this.flushing = this.flushing.then(async () => {
        this.queued[kind] = false;
        try {
          await work();
        } catch (e) {
          this.options.log(`${kind} failed: ${errorText(e)}`);
        }
      });
    }
    return this.flushing;
  }

  /** Pending samples → native batches → outbox; then the journal is cleared. */
  private async flush() {
    const { outbox, journal, topic, log } = this.options;
    const batches = this.batcher.take(MAX_MESSAGE_SAMPLES);
    let appended = true;
    for (const [i, batch] of batches.entries()) {
      let payload: string;
      try {
        payload = encodeSampleBatch(batch);
      } catch (e) {
        // Every sample was checked when it was added, so this is a bug; dropping it keeps the rest moving.
        this.unencodable += batch.length;
        log(`${samplesText(batch)} cannot be encoded, dropped: ${errorText(e)}`);
        continue;
      }
      try {
        await outbox.append(payload, topic);
      } catch (e) {
        // Kept with their numbers, and in order: this batch and the ones after it go first next time.
        const kept = batches.slice(i).flat();
        this.batcher.requeue(kept);
        appended = false;
        log(
          `outbox append failed, ${samplesText(kept)} kept for the next interval: ${errorText(e)}`,
        );
        break;
      }
    }
    const last = batches.at(-1)?.at(-1);
    if (appended && last) this.journaledNext = Math.max(this.journaledNext, last.sequence + 1);
    if (appended && this.journalDirty && journal) {
      // What the journal held is in the outbox now. If clearing fails, it is tried after the next
      // flush; a start meanwhile skips what the outbox has.
      try {
        journal.clear();
        this.journalDirty = false;
      } catch (e) {
        log(`journal not cleared: ${errorText(e)}`);
      }
    }
    this.reportDrops();
    this.options.onFlushed();
  }

  /**
   * Logs refused and dropped samples: at once the first time, then at most
   * once a minute while it goes on (a Pi whose clock is not set would
   * otherwise log every interval), and at stop.
   */
  private reportDrops(final = false) {
    const refused = this.batcher.refused.clock + this.batcher.refused.value;
    const dropped = this.batcher.dropped; // unencodable batches are logged when they happen
    const newRefused = refused - this.reported.refused;
    const newDropped = dropped - this.reported.dropped;
    if (newRefused === 0 && newDropped === 0) return;
    const at = performance.now();
    if (!final && at - this.reported.at < DROP_REPORT_EVERY_MS) return;
    if (newRefused > 0)
      this.options.log(
        `${newRefused} readings refused, not sent (${refused} since start): ${this.batcher.lastRefusal}`,
      );
    if (newDropped > 0)
      this.options.log(
        `${newDropped} samples dropped, oldest first, to keep at most ${this.options.maxPendingSamples ?? MAX_PENDING_SAMPLES} waiting in memory while the outbox cannot be appended to (${dropped} since start)`,
      );
    this.reported = { refused, dropped, at };
  }
}

/**
 * How often the sensor is drained at a sample rate. With the ADXL345's FIFO
 * (50 Hz and up) every 16 samples' worth, at most 100 ms, so its 32 entries
 * never overflow; below that the chip is polled, so at twice the rate,
 * reading every sample instant. Never more often than 10 ms.
 */
export const drainIntervalMs = (sampleRateHz: number): number =>
  sampleRateHz >= 50
    ? Math.min(100, Math.max(10, Math.floor((16 * 1000) / sampleRateHz)))
    : Math.max(10, Math.floor(500 / sampleRateHz));

const DROP_REPORT_EVERY_MS = 60_000;

/** The samples of a native batch the agent wrote (a journal record, an outbox entry). */
const samplesIn = (payload: Uint8Array): ReadonlyArray<Sample> => {
  const decoded = parseSensorPayload(payload);
  return Either.isRight(decoded) ? samplesOf(decoded.right, 0) : [];
};

const samplesText = (samples: ReadonlyArray<Sample>) =>
  `${samples.length} samples (sequence ${samples[0]?.sequence}–${samples.at(-1)?.sequence})`;
