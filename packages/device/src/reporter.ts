import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import type { SampleOutboxService } from "@medusa/adapters/outbox";
import type { MotionSensorService } from "@medusa/adapters/sensor";
import type { DeviceInfo, DeviceStatus, EpochMillis } from "@medusa/domain";
import type { DeviceConfig } from "./config.js";
import { detached, errorText } from "./errors.js";
import { cpuTemperature, memory, wifiState } from "./system.js";

export interface ReporterOptions {
  readonly config: DeviceConfig;
  readonly sensor: MotionSensorService;
  readonly outbox: SampleOutboxService;
  readonly transport: MqttConnectionService;
  /** The rates the agent runs at now (they change by command). */
  readonly sampling: { readonly sampleRateHz: number; readonly publishIntervalMs: number };
  readonly publishing: { readonly lastPublishAt: number | null };
  readonly now: () => number;
  readonly firmwareVersion: string;
  readonly log: (line: string) => void;
}

/**
 * What the device says about itself: the status report, every status
 * interval while connected, and the device info, on every connection.
 */
export class Reporter {
  private readonly started: number;
  private timer: NodeJS.Timeout | undefined;
  private intervalMs: number;
  private running = false;

  constructor(private readonly options: ReporterOptions) {
    this.started = options.now();
    this.intervalMs = options.config.statusIntervalMs;
  }

  start(): void {
    this.running = true;
    clearInterval(this.timer);
    this.timer = setInterval(
      () => detached("status", () => this.publishStatus(), this.options.log),
      this.intervalMs,
    );
  }

  stop(): void {
    this.running = false;
    clearInterval(this.timer);
  }

  /** How often the status report goes out. */
  get statusIntervalMs(): number {
    return this.intervalMs;
  }

  /** A new status interval, in force from now. */
  setStatusInterval(ms: number): void {
    if (ms === this.intervalMs) return;
    this.intervalMs = ms;
    if (this.running) this.start();
  }

  uptimeS(): number {
    return Math.round((this.options.now() - this.started) / 1000);
  }

  /** The status report, as published on the status topic. */
  async status(): Promise<DeviceStatus> {
    const { sensor, outbox, transport, sampling, publishing, now } = this.options;
    const health = sensor.health();
    const box = outbox.stats();
    return {
      timestamp: now() as EpochMillis,
      uptime_s: this.uptimeS(),
      wifi: await wifiState(),
      mqtt: { connected: transport.connected },
      sensor: {
        model: sensor.model,
        healthy: health.healthy,
        error: health.healthy ? null : (health.lastError ?? "unhealthy"),
        sample_rate_hz: sampling.sampleRateHz,
      },
      memory: memory(),
      cpu_temperature_c: await cpuTemperature(),
      outbox: { depth: box.depth, bytes: box.bytes, drops: box.drops },
      reconnects: transport.reconnects(),
      last_publish_at: publishing.lastPublishAt as EpochMillis | null,
    };
  }

  async publishDeviceInfo(): Promise<void> {
    const { config, sensor, sampling, now } = this.options;
    const info: DeviceInfo = {
      timestamp: now() as EpochMillis,
      device_type: config.device.deviceType,
      firmware_version: this.options.firmwareVersion,
      location: config.device.location,
      sensor_model: sensor.model,
      sample_rate_hz: sampling.sampleRateHz,
      publish_interval_ms: sampling.publishIntervalMs,
    };
    await this.publish(config.topics.deviceInfo, info, "device info");
  }

  private async publishStatus() {
    if (!this.options.transport.connected) return; // status is a snapshot: a stale one is not worth queueing
    const status = await this.status();
    await this.publish(this.options.config.topics.status, status, "status");
  }

  /** Published at once, not through the outbox: a report that cannot go now is not worth keeping. */
  private publish(topic: string, message: unknown, what: string): Promise<void> {
    return this.options.transport
      .publish(topic, JSON.stringify(message))
      .catch((e) => this.options.log(`${what} not published: ${errorText(e)}`));
  }
}
