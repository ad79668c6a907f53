import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import type { SampleJournalService, SampleOutboxService } from "@medusa/adapters/outbox";
import type { MotionSensorService } from "@medusa/adapters/sensor";
import type { DeviceStatus } from "@medusa/domain";
import { handleCommand } from "./commands.js";
import type { DeviceConfig } from "./config.js";
import { detached, errorText } from "./errors.js";
import { Publisher } from "./publisher.js";
import { Reporter } from "./reporter.js";
import { Sampler } from "./sampler.js";
import type { SequenceStoreService } from "./sequence.js";

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

  constructor(private readonly options: AgentOptions) {
    const { config, sensor, outbox, transport } = options;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
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
      publishIntervalMs: config.publishIntervalMs,
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
  }

  async start(): Promise<void> {
    const { transport, config } = this.options;
    await this.sampler.startSensor();
    transport.onConnect(() => {
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
    if (transport.connected) {
      detached("device info", () => this.reporter.publishDeviceInfo(), this.log);
      this.publisher.pump();
    }
  }

  /** Stops sampling, appends what is pending, gives the outbox `graceMs` to empty while connected. */
  async stop(graceMs = 2_000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
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
        setPublishInterval: (ms) => this.sampler.setPublishInterval(ms),
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
