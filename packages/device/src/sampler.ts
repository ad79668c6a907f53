import { performance } from "node:perf_hooks";
import type { SampleOutboxService } from "@medusa/adapters/outbox";
import type { MotionSensorService } from "@medusa/adapters/sensor";
import { encodeSampleBatch, type Sample } from "@medusa/domain";
import { Batcher, MAX_MESSAGE_SAMPLES, MAX_PENDING_SAMPLES } from "./batcher.js";
import { AgentStopping, detached, errorText } from "./errors.js";
import type { SequenceStoreService } from "./sequence.js";

export interface SamplerOptions {
  readonly sensor: MotionSensorService;
  readonly outbox: SampleOutboxService;
  readonly sequence?: SequenceStoreService | undefined;
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

/**
 * Sampling and batching. The sensor is drained on its own timer, which only
 * touches the sensor and memory: it never waits on the network. Each publish
 * interval turns the samples into native batches and appends them to the
 * durable outbox, after persisting the next sequence number.
 */
export class Sampler {
  private readonly batcher: Batcher;
  private rateHz: number;
  private intervalMs: number;
  private samplingTimer: NodeJS.Timeout | undefined;
  private publishTimer: NodeJS.Timeout | undefined;
  /** When the publish timer last fired (monotonic ms): a new interval keeps this phase. */
  private lastTickAt = performance.now();
  private stopped = false;
  private samplesTaken = 0;
  /** Samples in batches that could not be encoded (never expected: each sample is checked when added). */
  private unencodable = 0;
  private sampling: Promise<void> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private rateChange: Promise<void> = Promise.resolve();
  /** What the last drop report covered, and when it was logged (monotonic ms). */
  private reported = { refused: 0, dropped: 0, at: Number.NEGATIVE_INFINITY };

  constructor(private readonly options: SamplerOptions) {
    this.rateHz = options.sampleRateHz;
    this.intervalMs = options.publishIntervalMs;
    this.batcher = new Batcher(
      options.sequence?.load() ?? 0,
      options.maxPendingSamples !== undefined ? { maxPending: options.maxPendingSamples } : {},
    );
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

  /** Starts the drain and publish timers. */
  start(): void {
    this.scheduleSampling();
    this.lastTickAt = performance.now();
    this.schedulePublishing();
  }

  /** Stops the timers, takes what the sensor still holds and appends everything pending. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.publishTimer);
    clearInterval(this.samplingTimer);
    await this.sampling;
    await this.sample();
    await this.requestFlush();
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

  /**
   * One flush at a time, and at most one waiting behind it: a slow or stuck
   * append does not pile up flushes (the batcher's bound covers the samples).
   */
  private requestFlush(): Promise<void> {
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.flushing = this.flushing.then(() => {
        this.flushQueued = false;
        return this.flush().catch((e) => this.options.log(`flush failed: ${errorText(e)}`));
      });
    }
    return this.flushing;
  }

  /** Pending samples → native batches → outbox. */
  private async flush() {
    const { outbox, sequence, topic, log } = this.options;
    const batches = this.batcher.take(MAX_MESSAGE_SAMPLES);
    if (batches.length > 0) {
      try {
        sequence?.save(this.batcher.nextSequence);
      } catch (e) {
        log(`sequence number not persisted: ${errorText(e)}`);
      }
    }
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
        log(
          `outbox append failed, ${samplesText(kept)} kept for the next interval: ${errorText(e)}`,
        );
        break;
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

const samplesText = (samples: ReadonlyArray<Sample>) =>
  `${samples.length} samples (sequence ${samples[0]?.sequence}–${samples.at(-1)?.sequence})`;
