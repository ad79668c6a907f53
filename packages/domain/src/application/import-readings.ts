import { Effect, Either } from "effect";
import { attribute, type StoredSegment } from "../attribution.js";
import { DEFAULT_RETENTION_MS, UNASSIGNED } from "../enrichment.js";
import type { DeviceId, EpochMillis } from "../ids.js";
import type { EventStoreUnavailable } from "../ports/event-store.js";
import { AssignmentIntervals } from "../ports/intervals.js";
import { type SegmentsNotWritten, SensorStore } from "../ports/sensor-store.js";
import type { StorageUnavailable } from "../ports/storage.js";
import type { Sample } from "../sample.js";
import { decodeSensorMessage } from "../telemetry/sensor-message.js";

/** Readings of the older sensor table packed into one stored item, at most. */
export const DEFAULT_READINGS_PER_ITEM = 100;

/** What importing the older sensor table did. */
export interface ReadingsImport {
  readonly rowsRead: number;
  /** Samples now stored (in items written now or by an earlier run with the same samples). */
  readonly samplesImported: number;
  /** Of those, samples attributed to a patient (the rest were worn by nobody). */
  readonly samplesAttributed: number;
  readonly itemsWritten: number;
  /** Items an earlier run already stored, exactly so. */
  readonly itemsUnchanged: number;
  /** Items whose key holds other samples (left as they are). */
  readonly itemsConflicting: number;
  /** Rows that are not a reading, with the decoder's reason. */
  readonly refused: ReadonlyArray<{ readonly row: string; readonly reason: string }>;
}

/** The older sensor table's rows, decoded and sorted per device, and the rows refused with why. */
export interface ReadingsPlan {
  readonly rowsRead: number;
  /** Per device, its samples in time order. */
  readonly byDevice: ReadonlyMap<DeviceId, ReadonlyArray<Sample>>;
  /** Rows that are not a reading, or that the retention would delete on arrival, with the reason. */
  readonly refused: ReadonlyArray<{ readonly row: string; readonly reason: string }>;
}

/**
 * Decodes the older sensor table's rows (the flattened `{device_id,
 * timestamp, accel_x, accel_y, accel_z, magnitude, temperature, sequence,
 * ttl}` its IoT rule wrote, times in seconds or milliseconds) as the ingest
 * decodes a reading (the same checks). A reading taken longer ago than the
 * retention is refused with that reason rather than written: its item's
 * expiry (time taken + retention) has passed, so DynamoDB's TTL would delete
 * it soon after the import — a silent loss. The operator keeps such history
 * by importing with a longer retention. Pure: the dry run shows the same.
 */
export const planReadings = (
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>,
  options: { readonly now: EpochMillis; readonly retentionMs?: number },
): ReadingsPlan => {
  const retentionMs = options.retentionMs ?? DEFAULT_RETENTION_MS;
  const oldest = options.now - retentionMs;
  const refused: Array<{ row: string; reason: string }> = [];
  const byDevice = new Map<DeviceId, Array<Sample>>();
  for (const row of rows) {
    const name = `${String(row.device_id)}@${String(row.timestamp)}`;
    const decoded = decodeSensorMessage(
      { topic: null, clientId: null, receivedAt: options.now, payload: row },
      { topicTemplate: "{device_id}", now: options.now },
    );
    if (Either.isLeft(decoded)) {
      refused.push({ row: name, reason: decoded.left.message });
      continue;
    }
    const kept = decoded.right.samples.filter((s) => s.timestamp >= oldest);
    if (kept.length < decoded.right.samples.length)
      refused.push({
        row: name,
        reason: `taken ${new Date(Math.min(...decoded.right.samples.map((s) => s.timestamp))).toISOString()}, before the retention of ${retentionMs / 86_400_000} days (from ${new Date(oldest).toISOString()}): it would expire on arrival; import with a longer --retention-days to keep it`,
      });
    if (kept.length === 0) continue;
    const samples = byDevice.get(decoded.right.deviceId) ?? [];
    samples.push(...kept);
    byDevice.set(decoded.right.deviceId, samples);
  }
  for (const samples of byDevice.values())
    samples.sort((a, b) => a.timestamp - b.timestamp || a.sequence - b.sequence);
  return { rowsRead: rows.length, byDevice, refused };
};

/**
 * Imports the older sensor table (one item per reading): the rows planned by
 * `planReadings` (refused ones reported, not written), a device's samples
 * packed `perItem` to an item and attributed by event time with the device's
 * current intervals (so with the assignments just imported). Writes are
 * idempotent: the same rows give the same items, and an item already stored
 * is left as it is, so running the import again writes nothing.
 */
export const importReadings = (
  rows: ReadonlyArray<Readonly<Record<string, unknown>>>,
  options: {
    readonly now: EpochMillis;
    readonly retentionMs?: number;
    readonly perItem?: number;
    readonly onDevice?: (deviceId: DeviceId, done: number, of: number) => void;
  },
): Effect.Effect<
  ReadingsImport,
  EventStoreUnavailable | SegmentsNotWritten | StorageUnavailable,
  AssignmentIntervals | SensorStore
> =>
  Effect.gen(function* () {
    const perItem = options.perItem ?? DEFAULT_READINGS_PER_ITEM;
    const { byDevice, refused } = planReadings(rows, options);
    const intervals = yield* AssignmentIntervals;
    const store = yield* SensorStore;
    let samplesImported = 0;
    let samplesAttributed = 0;
    let itemsWritten = 0;
    let itemsUnchanged = 0;
    let itemsConflicting = 0;
    const devices = [...byDevice.keys()].sort();
    for (const [done, deviceId] of devices.entries()) {
      const samples = byDevice.get(deviceId) ?? [];
      const by = yield* intervals.current(deviceId);
      const segments: Array<StoredSegment> = [];
      for (let i = 0; i < samples.length; i += perItem)
        segments.push(
          ...attribute(
            deviceId,
            samples.slice(i, i + perItem),
            by,
            options.retentionMs !== undefined ? { retentionMs: options.retentionMs } : {},
          ),
        );
      const outcomes = yield* store.write(segments);
      outcomes.forEach((o, k) => {
        const segment = segments[k] as StoredSegment;
        if (o === "conflict") {
          itemsConflicting++;
          return;
        }
        if (o === "written") itemsWritten++;
        else itemsUnchanged++;
        samplesImported += segment.samples.length;
        if (segment.patientId !== UNASSIGNED) samplesAttributed += segment.samples.length;
      });
      options.onDevice?.(deviceId, done + 1, devices.length);
    }
    return {
      rowsRead: rows.length,
      samplesImported,
      samplesAttributed,
      itemsWritten,
      itemsUnchanged,
      itemsConflicting,
      refused,
    };
  });
