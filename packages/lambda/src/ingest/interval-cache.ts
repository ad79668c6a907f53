import {
  type AssignmentInterval,
  type DeviceId,
  EventStore,
  type EventStoreUnavailable,
  eventsOf,
  intervalsOf,
} from "@medusa/domain";
import { Effect } from "effect";

export interface DeviceIntervals {
  readonly intervals: ReadonlyArray<AssignmentInterval>;
  /** The stream version these intervals come from. */
  readonly version: number;
  readonly loadedAt: number;
}

export const DEFAULT_CACHE_TTL_MS = 30_000;

/**
 * A device's assignment intervals, kept per container so a message usually
 * costs no read. An entry is at most `ttlMs` old; in-process commits
 * invalidate it at once. Re-attribution's second pass covers the staleness
 * window (see the package README).
 */
export class IntervalCache {
  private readonly entries = new Map<DeviceId, DeviceIntervals>();
  loads = 0;

  constructor(
    private readonly ttlMs: number = DEFAULT_CACHE_TTL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  get(deviceId: DeviceId): Effect.Effect<DeviceIntervals, EventStoreUnavailable, EventStore> {
    const hit = this.entries.get(deviceId);
    if (hit && this.now() - hit.loadedAt < this.ttlMs) return Effect.succeed(hit);
    return this.load(deviceId);
  }

  /** Reads the stream now (always fresh) and caches it. */
  load(deviceId: DeviceId): Effect.Effect<DeviceIntervals, EventStoreUnavailable, EventStore> {
    return Effect.gen(this, function* () {
      // The entry's age counts from before the read: whatever the read returns
      // holds every commit made before this moment (the correctness argument's
      // point 1 in the README), however long the read itself takes.
      const loadedAt = this.now();
      const store = yield* EventStore;
      const stream = yield* store.load(deviceId);
      this.loads++;
      const entry = {
        intervals: intervalsOf(eventsOf(stream.commits)),
        version: stream.version,
        loadedAt,
      };
      this.entries.set(deviceId, entry);
      return entry;
    });
  }

  invalidate(deviceId: DeviceId): void {
    this.entries.delete(deviceId);
  }
}
