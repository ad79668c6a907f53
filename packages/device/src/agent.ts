import { dirname, join } from "node:path";
import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import type { SampleJournalService, SampleOutboxService } from "@medusa/adapters/outbox";
import type { MotionSensorService } from "@medusa/adapters/sensor";
import {
  type DeviceSettings,
  type DeviceStatus,
  type EpochMillis,
  effectivePublishIntervalMs,
  type LiveMode,
  type ReportedDeviceState,
  type SettingRefusal,
} from "@medusa/domain";
import { writeAppliedSettings } from "./applied-settings.js";
import { certificateRotation } from "./certificate-rotation.js";
import { handleCommand } from "./commands.js";
import type { DeviceConfig } from "./config.js";
import { AgentStopping, detached, errorText } from "./errors.js";
import { confirmUpdate, jobExecutors } from "./job-executors.js";
import { JobsClient, type JobsClientOptions } from "./jobs-client.js";
import { Publisher } from "./publisher.js";
import { Reporter } from "./reporter.js";
import { Sampler } from "./sampler.js";
import type { SequenceStoreService } from "./sequence.js";
import { type ApplyOutcome, ShadowSync, type ShadowSyncOptions } from "./shadow-sync.js";

/** What the agent runs on. */
export interface AgentPorts {
  readonly sensor: MotionSensorService;
  readonly outbox: SampleOutboxService;
  readonly transport: MqttConnectionService;
  /** Where the next sequence number survives a restart (without one, numbering starts at 0). */
  readonly sequence?: SequenceStoreService;
  /** Where samples wait durably during a publish interval longer than a second (without one, in memory). */
  readonly journal?: SampleJournalService;
}

export interface AgentOptions extends AgentPorts {
  readonly config: DeviceConfig;
  readonly now?: () => number;
  readonly firmwareVersion?: string;
  readonly log?: (line: string) => void;
  /** Publishes at most this many outbox entries without PUBACK. */
  readonly maxInflight?: number;
  /** Samples held in memory at most while outbox appends fail (default `MAX_PENDING_SAMPLES`). */
  readonly maxPendingSamples?: number;
  /**
   * Sync with the device's classic shadow (see `ShadowSync`). `applied` are
   * the settings taken from it before (already in `config`, but for live
   * mode), saved to `appliedSettingsPath` whenever they change.
   */
  readonly shadow?: {
    readonly appliedSettingsPath?: string;
    readonly applied?: DeviceSettings;
  } & Partial<Pick<ShadowSyncOptions, "timeoutMs" | "reportEveryMs" | "retryMs">>;
  /**
   * Run AWS IoT Jobs (see `JobsClient`), unless `config.jobs.enabled` is
   * false. `restart` stops the agent so that it is started again (systemd);
   * `bundle` is the file the launcher runs, which agent.update replaces.
   */
  readonly jobs?: {
    readonly reportPath: string;
    readonly restart: (reason: string) => void;
    readonly bundle?: string;
    readonly flushWaitMs?: number;
  } & Partial<
    Pick<
      JobsClientOptions,
      "timeoutMs" | "stepTimeoutMinutes" | "stepBudgetMs" | "retryMs" | "throttleBaseMs"
    >
  >;
}

/**
 * The device agent: the sampler fills the durable outbox, the publisher
 * empties it over MQTT, the reporter says how the device is; the agent starts
 * and stops them and answers remote commands. It does not open or close its
 * ports: whoever gave them (a layer, see `launchAgent`) closes them after `stop()`.
 */
export class Agent {
  private readonly sampler: Sampler;
  private readonly publisher: Publisher;
  private readonly reporter: Reporter;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private stopped = false;
  private identifyUntil = 0;
  private readonly shadow: ShadowSync | undefined;
  private readonly jobs: JobsClient | undefined;
  /** The settings taken from the shadow (what `appliedSettingsPath` holds). */
  private applied: DeviceSettings;
  /** The device's own publish interval (its file's, or the shadow's), live mode aside. */
  private baseIntervalMs: number;
  private live: LiveMode | undefined;
  private liveTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: AgentOptions) {
    const { config, sensor, outbox, transport } = options;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    this.applied = options.shadow?.applied ?? {};
    this.baseIntervalMs = config.publishIntervalMs;
    this.live = this.applied.live;
    this.publisher = new Publisher({
      outbox,
      transport,
      now: this.now,
      log: this.log,
      maxInflight: options.maxInflight,
    });
    this.sampler = new Sampler({
      sensor,
      outbox,
      sequence: options.sequence,
      journal: options.journal,
      topic: config.topics.sensorData,
      sampleRateHz: config.sensor.sampleRateHz,
      publishIntervalMs: effectivePublishIntervalMs(this.baseIntervalMs, this.live, this.now()),
      maxPendingSamples: options.maxPendingSamples,
      log: this.log,
      onFlushed: () => this.publisher.pump(),
    });
    this.reporter = new Reporter({
      config,
      sensor,
      outbox,
      transport,
      sampling: this.sampler,
      publishing: this.publisher,
      now: this.now,
      firmwareVersion: options.firmwareVersion ?? "0.0.0",
      log: this.log,
    });
    // `shadow.enabled = false` (a broker without a shadow service): settings taken before still hold.
    this.shadow =
      options.shadow && config.shadow.enabled
        ? new ShadowSync({
            thing: config.deviceId,
            transport,
            apply: (settings) => this.applySettings(settings),
            reported: (refused) => this.reportedState(refused),
            log: this.log,
            ...(options.shadow.timeoutMs !== undefined
              ? { timeoutMs: options.shadow.timeoutMs }
              : {}),
            ...(options.shadow.reportEveryMs !== undefined
              ? { reportEveryMs: options.shadow.reportEveryMs }
              : {}),
            ...(options.shadow.retryMs !== undefined ? { retryMs: options.shadow.retryMs } : {}),
          })
        : undefined;
    const jobs = options.jobs;
    if (jobs && config.jobs.enabled) {
      const executors = jobExecutors({
        config,
        firmwareVersion: options.firmwareVersion ?? "0.0.0",
        bundle: jobs.bundle,
        outbox,
        applySettings: async (settings) => {
          const outcome = await this.applySettings(settings);
          this.shadow?.requestReport();
          return outcome;
        },
        pump: () => this.publisher.pump(),
        now: this.now,
        log: this.log,
        ...(jobs.flushWaitMs !== undefined ? { flushWaitMs: jobs.flushWaitMs } : {}),
        rotation: certificateRotation({
          thingName: config.mqtt.clientId,
          certPath: config.mqtt.certPath,
          keyPath: config.mqtt.keyPath,
          statePath: join(dirname(jobs.reportPath), "certificate-rotation.json"),
          transport,
          log: this.log,
        }),
      });
      const { reportPath, restart, bundle: _bundle, flushWaitMs: _flush, ...timings } = jobs;
      this.jobs = new JobsClient({
        thing: config.deviceId,
        transport,
        log: this.log,
        execute: executors.execute,
        resume: executors.resume,
        restart,
        reportPath,
        ...timings,
      });
    }
  }

  async start(): Promise<void> {
    const { transport, config } = this.options;
    await this.sampler.startSensor();
    transport.onConnect(() => {
      // A new bundle that connects confirms its update before anything else (the launcher's deadline).
      confirmUpdate(this.options.jobs?.bundle, this.options.firmwareVersion ?? "0.0.0", this.log);
      this.publisher.reset();
      detached("device info", () => this.reporter.publishDeviceInfo(), this.log);
      this.publisher.pump();
    });
    transport.onDisconnect(() => this.publisher.reset());
    await transport.subscribe(config.topics.commands, (topic, payload) =>
      detached("command", () => this.onCommand(topic, payload), this.log),
    );
    this.sampler.start();
    this.reporter.start();
    this.armLiveEnd();
    this.shadow?.start();
    if (transport.connected)
      confirmUpdate(this.options.jobs?.bundle, this.options.firmwareVersion ?? "0.0.0", this.log);
    this.jobs?.start();
    if (transport.connected) {
      detached("device info", () => this.reporter.publishDeviceInfo(), this.log);
      this.publisher.pump();
    }
  }

  /** Stops sampling, appends what is pending, gives the outbox `graceMs` to empty while connected. */
  async stop(graceMs = 2_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.shadow?.stop();
    this.jobs?.stop();
    clearTimeout(this.liveTimer);
    this.reporter.stop();
    await this.sampler.stop();
    await this.publisher.drain(graceMs);
  }

  stats() {
    const { samplesTaken, samplesRefused, samplesDropped, nextSequence } = this.sampler.stats();
    return {
      samplesTaken,
      samplesRefused,
      samplesDropped,
      sampleRateHz: this.sampler.sampleRateHz,
      publishIntervalMs: this.sampler.publishIntervalMs,
      lastPublishAt: this.publisher.lastPublishAt,
      inflight: this.publisher.inflightCount,
      nextSequence,
      identifying: this.now() < this.identifyUntil,
      applied: this.applied,
      shadow: this.shadow?.stats(),
      jobs: this.jobs?.stats(),
    };
  }

  /** The Jobs client's work under way, finished (tests). */
  jobsIdle(): Promise<void> {
    return this.jobs?.idle() ?? Promise.resolve();
  }

  /** The shadow's work under way, finished (tests). */
  shadowIdle(): Promise<void> {
    return this.shadow?.idle() ?? Promise.resolve();
  }

  /**
   * Takes valid desired settings: each one applied unless the device already
   * runs with it, saved (so a restart keeps it) when it is new. A setting the
   * sensor does not take is refused with its reason, and not saved.
   */
  private async applySettings(settings: DeviceSettings): Promise<ApplyOutcome> {
    const refused: Array<SettingRefusal> = [];
    const next: { -readonly [K in keyof DeviceSettings]: DeviceSettings[K] } = { ...this.applied };
    if (settings.sampleRateHz !== undefined) {
      try {
        if (settings.sampleRateHz !== this.sampler.sampleRateHz)
          await this.sampler.setSampleRate(settings.sampleRateHz);
        next.sampleRateHz = settings.sampleRateHz;
      } catch (e) {
        refused.push({
          setting: "sensor.sample_rate_hz",
          reason: `the sensor did not take it: ${errorText(e)}`.slice(0, 200),
        });
      }
    }
    if (settings.publishIntervalMs !== undefined) {
      next.publishIntervalMs = settings.publishIntervalMs;
      this.baseIntervalMs = settings.publishIntervalMs;
    }
    if (settings.statusIntervalMs !== undefined) {
      next.statusIntervalMs = settings.statusIntervalMs;
      this.reporter.setStatusInterval(settings.statusIntervalMs);
    }
    if (settings.live !== undefined) {
      next.live = settings.live;
      this.live = settings.live;
    }
    this.armLiveEnd();
    const changed = JSON.stringify(next) !== JSON.stringify(this.applied);
    if (changed) {
      this.applied = next;
      const path = this.options.shadow?.appliedSettingsPath;
      if (path)
        try {
          writeAppliedSettings(path, next);
        } catch (e) {
          // Applied all the same; a restart would go back to the file's values until the next get.
          this.log(`applied settings not saved to ${path}: ${errorText(e)}`);
        }
      this.log(`shadow settings applied: ${JSON.stringify(next)}`);
    }
    return { changed, refused };
  }

  /**
   * The publish interval in force: live mode's while it lasts, else the
   * device's own. Live mode's end is a local timer, so the device falls back
   * at the time asked for, connected or not.
   */
  private armLiveEnd() {
    clearTimeout(this.liveTimer);
    this.liveTimer = undefined;
    if (this.stopped) return;
    const now = this.now();
    const effective = effectivePublishIntervalMs(this.baseIntervalMs, this.live, now);
    if (effective !== this.sampler.publishIntervalMs) {
      this.sampler.setPublishInterval(effective);
      this.log(
        `publishing every ${effective} ms${this.live && now < this.live.until ? ` (live mode until ${new Date(this.live.until).toISOString()})` : ""}`,
      );
    }
    if (this.live && now < this.live.until) {
      // Timers hold at most 2^31-1 ms; a longer wait is re-armed on the way.
      const wait = Math.min(this.live.until - now + 1, 2 ** 31 - 1);
      this.liveTimer = setTimeout(() => {
        this.armLiveEnd();
        this.shadow?.requestReport();
      }, wait);
      this.liveTimer.unref?.();
    }
  }

  /** The shadow's reported state: the settings the agent runs with, what it refused, how it is. */
  private async reportedState(
    refused: ReadonlyArray<SettingRefusal>,
  ): Promise<ReportedDeviceState> {
    const { config } = this.options;
    const status = await this.reporter.status();
    const now = this.now();
    return {
      agent: { version: this.options.firmwareVersion ?? "0.0.0" },
      sensor: status.sensor,
      publish: {
        interval_ms: this.baseIntervalMs,
        status_interval_ms: this.reporter.statusIntervalMs,
        ...(this.live
          ? { live_interval_ms: this.live.intervalMs, live_until: this.live.until as EpochMillis }
          : {}),
        effective_interval_ms: effectivePublishIntervalMs(this.baseIntervalMs, this.live, now),
        basic_ingest: config.topics.basicIngestRule !== null,
        last_publish_at: status.last_publish_at,
      },
      outbox: status.outbox,
      reconnects: status.reconnects,
      uptime_s: status.uptime_s,
      wifi: status.wifi,
      memory: status.memory,
      cpu_temperature_c: status.cpu_temperature_c,
      refused,
      timestamp: now as EpochMillis,
    };
  }

  /** The status report, as published on the status topic. */
  status(): Promise<DeviceStatus> {
    return this.reporter.status();
  }

  private async onCommand(topic: string, payload: Uint8Array) {
    const { config, transport, outbox } = this.options;
    if (topic === config.topics.commandResponse) return; // our own answers come back on commands/#
    const response = await handleCommand(
      payload,
      {
        setSampleRate: (hz) => this.sampler.setSampleRate(hz),
        setPublishInterval: (ms) => {
          if (this.stopped) throw new AgentStopping();
          this.baseIntervalMs = ms;
          this.armLiveEnd();
        },
        identify: (seconds) => {
          this.identifyUntil = this.now() + seconds * 1000;
          this.log(`identify requested for ${seconds} s`);
        },
        ping: () => ({ uptime_s: this.reporter.uptimeS(), outbox_depth: outbox.stats().depth }),
      },
      this.now,
    );
    await transport
      .publish(config.topics.commandResponse, JSON.stringify(response))
      .catch((e) => this.log(`command response not published: ${errorText(e)}`));
  }
}
