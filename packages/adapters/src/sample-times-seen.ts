import type { DeviceId, EpochMillis, SampleTimesMemory } from "@medusa/domain";

/**
 * The newest sample time this ingest process recorded in each device's status
 * row (`recordSampleTimes`' memory): a batch whose samples are not a step
 * ahead of it costs no read and no write. One per ingest process (a Lambda
 * container, the local stack), bounded: past `capacity` devices, the device it
 * took in first is forgotten (its next batch reads the row again).
 */
export class SampleTimesSeen implements SampleTimesMemory {
  private readonly held = new Map<DeviceId, EpochMillis>();
  constructor(private readonly capacity = 10_000) {}
  readonly recalled = (deviceId: DeviceId): EpochMillis | undefined => this.held.get(deviceId);
  readonly remember = (deviceId: DeviceId, at: EpochMillis): void => {
    if (!this.held.has(deviceId) && this.held.size >= this.capacity) {
      const oldest = this.held.keys().next();
      if (!oldest.done) this.held.delete(oldest.value);
    }
    this.held.set(deviceId, at);
  };
  /** How many devices it holds a time for. */
  get size(): number {
    return this.held.size;
  }
}
