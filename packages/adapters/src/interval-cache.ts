import {
  AssignmentIntervals,
  type AssignmentIntervalsService,
  Clock,
  type DeviceId,
  type DeviceIntervals,
  EventStore,
  type EventStoreService,
  eventsOf,
  intervalsOf,
} from "@medusa/domain";
import { Effect, Layer } from "effect";

export const DEFAULT_CACHE_TTL_MS = 30_000;

export interface IntervalCache extends AssignmentIntervalsService {
  /** Streams read so far (a benchmark's read count). */
  readonly loads: () => number;
}

/**
 * A device's assignment intervals from its event stream, kept per process
 * (per Lambda container) so that a message usually costs no read. An entry is
 * at most `ttlMs` old; `forget` (an in-process commit) drops it at once.
 * Re-attribution's second pass covers the window in which another process's
 * commit is not seen yet (see the lambda README).
 */
export const makeIntervalCache = (
  events: EventStoreService,
  clock: Clock["Type"],
  ttlMs: number = DEFAULT_CACHE_TTL_MS,
): IntervalCache => {
  const entries = new Map<DeviceId, DeviceIntervals & { readonly loadedAt: number }>();
  let loads = 0;
  const current = (deviceId: DeviceId) =>
    Effect.gen(function* () {
      // The entry's age counts from before the read: whatever the read returns
      // holds every commit made before this moment (the correctness argument's
      // point 1 in the lambda README), however long the read itself takes.
      const loadedAt = yield* clock.now;
      const stream = yield* events.load(deviceId);
      loads++;
      const entry = {
        intervals: intervalsOf(eventsOf(stream.commits)),
        version: stream.version,
        loadedAt,
      };
      entries.set(deviceId, entry);
      return entry;
    });
  return {
    recent: (deviceId) =>
      Effect.flatMap(clock.now, (now) => {
        const hit = entries.get(deviceId);
        return hit && now - hit.loadedAt < ttlMs ? Effect.succeed(hit) : current(deviceId);
      }),
    current,
    forget: (deviceId) => Effect.sync(() => void entries.delete(deviceId)),
    loads: () => loads,
  };
};

/** The interval cache as the `AssignmentIntervals` port, over the event store and the clock. */
export const intervalCacheLayer = (
  ttlMs: number = DEFAULT_CACHE_TTL_MS,
): Layer.Layer<AssignmentIntervals, never, EventStore | Clock> =>
  Layer.effect(
    AssignmentIntervals,
    Effect.map(Effect.all([EventStore, Clock]), ([events, clock]) =>
      makeIntervalCache(events, clock, ttlMs),
    ),
  );
