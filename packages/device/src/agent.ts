import { performance } from "node:perf_hooks";
import {
  type DeviceInfo,
  type DeviceStatus,
  type EpochMillis,
  encodeSampleBatch,
  type Sample,
} from "@medusa/domain";
import { Batcher, MAX_MESSAGE_SAMPLES, MAX_PENDING_SAMPLES, type Reading } from "./batcher.js";
import { handleCommand } from "./commands.js";
import type { DeviceConfig } from "./config.js";
import { cpuTemperature, memory, wifiState } from "./system.js";

/** The sensor as the agent uses it (the ADXL345 driver and the synthetic sensor both fit). */
export interface AgentSensor {
  readonly model: string;
  start(rateHz: number): Promise<void>;
  setRate(rateHz: number): Promise<void>;
  /** Every reading since the last drain; never throws (errors show in health). */
  drain(): Promise<ReadonlyArray<Reading>>;
  health(): { readonly healthy: boolean; readonly lastError?: string };
  close(): Promise<void>;
}

export interface AgentOutboxEntry {
  readonly id: number | bigint;
  readonly topic: string;
  readonly payload: Uint8Array;
}

/** The durable outbox: a batch is appended before it is published and removed after PUBACK. */
export interface AgentOutbox {
  append(payload: string, topic: string): Promise<unknown>;
  /** Oldest first; with `after`, only entries appended after that id. */
  pending(
    limit?: number,
    after?: number,
  ): ReadonlyArray<AgentOutboxEntry> | Promise<ReadonlyArray<AgentOutboxEntry>>;
  ack(id: number | bigint): unknown;
  stats(): { readonly depth: number; readonly bytes: number; readonly drops: number };
  close(): Promise<void>;
}

/** MQTT as the agent uses it: QoS 1 publishes that resolve at PUBACK. */
export interface AgentTransport {
  readonly connected: boolean;
  publish(topic: string, payload: string | Uint8Array): Promise<void>;
  subscribe(filter: string, onMessage: (topic: string, payload: Uint8Array) => void): Promise<void>;
  onConnect(listener: () => void): void;
  onDisconnect(listener: () => void): void;
  reconnects(): number;
  close(): Promise<void>;
}

export interface AgentOptions {
  readonly config: DeviceConfig;
  readonly sensor: AgentSensor;
  readonly outbox: AgentOutbox;
  readonly transport: AgentTransport;
  readonly now?: () => number;
  readonly firmwareVersion?: string;
  readonly log?: (line: string) => void;
  /** Publishes at most this many outbox entries without PUBACK. */
  readonly maxInflight?: number;
  /**
   * Where the next sequence number survives a restart, so that numbers are
   * never reused for different samples (a crash leaves a gap instead).
   */
  readonly sequence?: SequenceStore;
  /** Samples held in memory at most while outbox appends fail (default `MAX_PENDING_SAMPLES`). */
  readonly maxPendingSamples?: number;
}

export interface SequenceStore {
  load(): number;
  save(next: number): void;
}

/**
 * The device agent. Sampling runs on its own timer and only touches the
 * sensor and memory: it never waits on the network. Each publish interval
 * turns the samples into native batches and appends them to the durable
 * outbox; a pump publishes outbox entries while connected (QoS 1, at most
 * `maxInflight` unacknowledged) and removes each only after its PUBACK.
 */
export class Agent {
  private readonly batcher: Batcher;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readonly maxInflight: number;
  private readonly inflight = new Set<string>();
  private readonly started: number;
  private sampleRateHz: number;
  private publishIntervalMs: number;
  private timers: Array<NodeJS.Timeout> = [];
  private publishTimer: NodeJS.Timeout | undefined;
  private samplingTimer: NodeJS.Timeout | undefined;
  /** When the publish timer last fired (monotonic ms): a new interval keeps this phase. */
  private lastTickAt = performance.now();
  private lastPublishAt: number | null = null;
  private pumping = false;
  private pumpAgain = false;
  private stopped = false;
  private identifyUntil = 0;
  private samplesTaken = 0;
  /** Samples in batches that could not be encoded (never expected: each sample is checked when added). */
  private unencodable = 0;
  private flushing: Promise<void> = Promise.resolve();
  private flushQueued = false;
  private rateChange: Promise<void> = Promise.resolve();
  private sampling: Promise<void> | undefined;
  /** What the last drop report covered, and when it was logged (monotonic ms). */
  private reported = { refused: 0, dropped: 0, at: Number.NEGATIVE_INFINITY };
  /** The newest outbox entry handed to MQTT on this connection. */
  private taken = 0;

  constructor(private readonly options: AgentOptions) {
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    this.maxInflight = options.maxInflight ?? 100;
    this.sampleRateHz = options.config.sensor.sampleRateHz;
    this.publishIntervalMs = options.config.publishIntervalMs;
    this.started = this.now();
    this.batcher = new Batcher(
      options.sequence?.load() ?? 0,
      options.maxPendingSamples !== undefined ? { maxPending: options.maxPendingSamples } : {},
    );
  }

  async start(): Promise<void> {
    const { sensor, transport, config } = this.options;
    // A sensor that is not there yet (bus error, wrong DEVID) shows in status and is retried by its driver.
    await sensor
      .start(this.sampleRateHz)
      .catch((e) => this.log(`sensor not ready, retrying: ${errorText(e)}`));
    transport.onConnect(() => {
      this.inflight.clear();
      this.taken = 0;
      void this.publishDeviceInfo();
      this.pump();
    });
    transport.onDisconnect(() => {
      this.inflight.clear();
      this.taken = 0;
    });
    await transport.subscribe(
      config.topics.commands,
      (topic, payload) => void this.onCommand(topic, payload),
    );
    this.scheduleSampling();
    this.lastTickAt = performance.now();
    this.schedulePublishing();
    this.timers.push(setInterval(() => void this.publishStatus(), config.statusIntervalMs));
    if (transport.connected) {
      void this.publishDeviceInfo();
      this.pump();
    }
  }

  /** Stops sampling, persists what is pending, gives the outbox a moment to empty, disconnects. */
  async stop(graceMs = 2_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearInterval(this.publishTimer);
    clearInterval(this.samplingTimer);
    await this.sampling;
    await this.sample();
    await this.requestFlush();
    this.reportDrops(true);
    const deadline = Date.now() + graceMs; // real time, whatever clock the samples use
    // What is left waits in the outbox for the next start; a connected agent gets it out first.
    while (
      (this.inflight.size > 0 || this.options.outbox.stats().depth > 0) &&
      this.options.transport.connected &&
      Date.now() < deadline
    ) {
      this.pump();
      await new Promise((r) => setTimeout(r, 20));
    }
    await this.options.sensor.close();
    await this.options.transport.close();
    await this.options.outbox.close();
  }

  stats() {
    return {
      samplesTaken: this.samplesTaken,
      /** Readings that could not be samples, never numbered: `clock`, a time before 2020 (or after 2100). */
      samplesRefused: { ...this.batcher.refused },
      /** Numbered samples dropped: over the in-memory bound while appends failed, or not encodable. */
      samplesDropped: this.batcher.dropped + this.unencodable,
      sampleRateHz: this.sampleRateHz,
      publishIntervalMs: this.publishIntervalMs,
      lastPublishAt: this.lastPublishAt,
      inflight: this.inflight.size,
      nextSequence: this.batcher.nextSequence,
      identifying: this.now() < this.identifyUntil,
    };
  }

  private scheduleSampling() {
    if (this.stopped) return;
    clearInterval(this.samplingTimer);
    this.samplingTimer = setInterval(() => void this.sample(), drainIntervalMs(this.sampleRateHz));
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
      void this.requestFlush();
    };
    const due = Math.max(0, this.lastTickAt + this.publishIntervalMs - performance.now());
    this.publishTimer = setTimeout(() => {
      tick();
      if (!this.stopped) this.publishTimer = setInterval(tick, this.publishIntervalMs);
    }, due);
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
        return this.flush().catch((e) => this.log(`flush failed: ${errorText(e)}`));
      });
    }
    return this.flushing;
  }

  private async applySampleRate(hz: number) {
    if (this.stopped) throw new AgentStopping();
    if (hz === this.sampleRateHz) return; // re-configuring the chip would only empty its FIFO
    await this.sample(); // what the chip holds at the old rate, before re-configuring empties it
    if (this.stopped) throw new AgentStopping();
    await this.options.sensor.setRate(hz);
    const before = drainIntervalMs(this.sampleRateHz);
    this.sampleRateHz = hz; // the sensor runs at it now, stopping or not
    if (drainIntervalMs(hz) !== before) this.scheduleSampling();
  }

  private applyPublishInterval(ms: number) {
    if (this.stopped) throw new AgentStopping();
    if (ms === this.publishIntervalMs) return;
    this.publishIntervalMs = ms;
    this.schedulePublishing();
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

  /** Pending samples → native batches → outbox; then publish. */
  private async flush() {
    const batches = this.batcher.take(MAX_MESSAGE_SAMPLES);
    if (batches.length > 0) {
      try {
        this.options.sequence?.save(this.batcher.nextSequence);
      } catch (e) {
        this.log(`sequence number not persisted: ${errorText(e)}`);
      }
    }
    for (const [i, batch] of batches.entries()) {
      let payload: string;
      try {
        payload = encodeSampleBatch(batch);
      } catch (e) {
        // Every sample was checked when it was added, so this is a bug; dropping it keeps the rest moving.
        this.unencodable += batch.length;
        this.log(`${samplesText(batch)} cannot be encoded, dropped: ${errorText(e)}`);
        continue;
      }
      try {
        await this.options.outbox.append(payload, this.options.config.topics.sensorData);
      } catch (e) {
        // Kept with their numbers, and in order: this batch and the ones after it go first next time.
        const kept = batches.slice(i).flat();
        this.batcher.requeue(kept);
        this.log(
          `outbox append failed, ${samplesText(kept)} kept for the next interval: ${errorText(e)}`,
        );
        break;
      }
    }
    this.reportDrops();
    this.pump();
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
      this.log(
        `${newRefused} readings refused, not sent (${refused} since start): ${this.batcher.lastRefusal}`,
      );
    if (newDropped > 0)
      this.log(
        `${newDropped} samples dropped, oldest first, to keep at most ${this.options.maxPendingSamples ?? MAX_PENDING_SAMPLES} waiting in memory while the outbox cannot be appended to (${dropped} since start)`,
      );
    this.reported = { refused, dropped, at };
  }

  /** Publishes outbox entries while connected, up to `maxInflight` without PUBACK. */
  private pump() {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    void (async () => {
      try {
        do {
          this.pumpAgain = false;
          const { transport, outbox } = this.options;
          if (!transport.connected) return;
          const free = this.maxInflight - this.inflight.size;
          if (free <= 0) return;
          const entries = await outbox.pending(free, this.taken);
          for (const entry of entries) {
            if (this.inflight.size >= this.maxInflight || !transport.connected) break;
            const id = Number(entry.id);
            const key = String(entry.id);
            this.taken = Math.max(this.taken, id);
            if (this.inflight.has(key)) continue;
            this.inflight.add(key);
            transport.publish(entry.topic, entry.payload).then(
              async () => {
                this.inflight.delete(key);
                this.lastPublishAt = this.now();
                await outbox.ack(entry.id);
                this.pump();
              },
              async (e: unknown) => {
                this.inflight.delete(key);
                if (e instanceof Error && e.name === "PayloadTooLarge") {
                  // It can never be sent (the batcher keeps batches well under the limit).
                  this.log(`outbox entry ${key} dropped: ${e.message}`);
                  await outbox.ack(entry.id);
                  return;
                }
                // Not acknowledged: it stays in the outbox and goes again, after a reconnect at the latest.
                this.taken = Math.min(this.taken, id - 1);
              },
            );
          }
        } while (this.pumpAgain);
      } catch (e) {
        this.log(`publishing paused: ${errorText(e)}`);
      } finally {
        this.pumping = false;
      }
    })();
  }

  private async publishDeviceInfo() {
    const { config, sensor, transport } = this.options;
    const info: DeviceInfo = {
      timestamp: this.now() as EpochMillis,
      device_type: config.device.deviceType,
      firmware_version: this.options.firmwareVersion ?? "0.0.0",
      location: config.device.location,
      sensor_model: sensor.model,
      sample_rate_hz: this.sampleRateHz,
      publish_interval_ms: this.publishIntervalMs,
    };
    await transport
      .publish(config.topics.deviceInfo, JSON.stringify(info))
      .catch((e) => this.log(`device info not published: ${errorText(e)}`));
  }

  /** The status report, as published on the status topic. */
  async status(): Promise<DeviceStatus> {
    const { sensor, outbox, transport } = this.options;
    const health = sensor.health();
    const box = outbox.stats();
    return {
      timestamp: this.now() as EpochMillis,
      uptime_s: Math.round((this.now() - this.started) / 1000),
      wifi: await wifiState(),
      mqtt: { connected: transport.connected },
      sensor: {
        model: sensor.model,
        healthy: health.healthy,
        error: health.healthy ? null : (health.lastError ?? "unhealthy"),
        sample_rate_hz: this.sampleRateHz,
      },
      memory: memory(),
      cpu_temperature_c: await cpuTemperature(),
      outbox: { depth: box.depth, bytes: box.bytes, drops: box.drops },
      reconnects: transport.reconnects(),
      last_publish_at: this.lastPublishAt as EpochMillis | null,
    };
  }

  private async publishStatus() {
    const { transport, config } = this.options;
    if (!transport.connected) return; // status is a snapshot: a stale one is not worth queueing
    const status = await this.status();
    await transport
      .publish(config.topics.status, JSON.stringify(status))
      .catch((e) => this.log(`status not published: ${errorText(e)}`));
  }

  private async onCommand(topic: string, payload: Uint8Array) {
    const { config, transport } = this.options;
    if (topic === config.topics.commandResponse) return; // our own answers come back on commands/#
    const response = await handleCommand(
      payload,
      {
        setSampleRate: (hz) => {
          // One rate change at a time, each compared with the rate the one before it left.
          const change = this.rateChange.then(() => this.applySampleRate(hz));
          this.rateChange = change.catch(() => {});
          return change;
        },
        setPublishInterval: (ms) => this.applyPublishInterval(ms),
        identify: (seconds) => {
          this.identifyUntil = this.now() + seconds * 1000;
          this.log(`identify requested for ${seconds} s`);
        },
        ping: () => ({
          uptime_s: Math.round((this.now() - this.started) / 1000),
          outbox_depth: this.options.outbox.stats().depth,
        }),
      },
      this.now,
    );
    await transport
      .publish(config.topics.commandResponse, JSON.stringify(response))
      .catch((e) => this.log(`command response not published: ${errorText(e)}`));
  }
}

/**
 * How often the agent drains the sensor at a sample rate. With the ADXL345's
 * FIFO (50 Hz and up) every 16 samples' worth, at most 100 ms, so its 32
 * entries never overflow; below that the chip is polled, so at twice the rate,
 * reading every sample instant. Never more often than 10 ms.
 */
export const drainIntervalMs = (sampleRateHz: number): number =>
  sampleRateHz >= 50
    ? Math.min(100, Math.max(10, Math.floor((16 * 1000) / sampleRateHz)))
    : Math.max(10, Math.floor(500 / sampleRateHz));

/** A state-changing command that arrives once `stop()` began; answered as `command_failed`. */
export class AgentStopping extends Error {
  override readonly name = "AgentStopping";
  constructor() {
    super("the agent is stopping");
  }
}

const DROP_REPORT_EVERY_MS = 60_000;

const samplesText = (samples: ReadonlyArray<Sample>) =>
  `${samples.length} samples (sequence ${samples[0]?.sequence}–${samples.at(-1)?.sequence})`;

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
