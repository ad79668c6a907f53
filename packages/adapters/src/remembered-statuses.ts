import type {
  DeviceId,
  DeviceStatusesService,
  FleetDeviceStatus,
  InvalidCursor,
  StorageUnavailable,
  StoredDeviceStatus,
} from "@medusa/domain";
import { Effect } from "effect";

/** A device-status store that remembers its rows (`rememberingDeviceStatuses`). */
export interface RememberingDeviceStatuses extends DeviceStatusesService {
  /**
   * Reads every row into memory (`listStored`'s pages); when they all fit,
   * a device it holds no row for has none, as far as this process knows, and
   * its first save is a write without a read. Answers how many rows it holds.
   */
  readonly load: Effect.Effect<number, InvalidCursor | StorageUnavailable>;
}

/**
 * A device-status store that remembers each row it read or saved, for a
 * process that saves many changes of the same rows (the local stack's
 * presence, shadow, assignment and sample-time updates): a save then costs
 * one conditional write, not a read and a write. The remembered row may be
 * old when another process saved the row since: the save names the old
 * revision, the store answers `"changed"`, the row is forgotten, and the
 * caller decides again on a fresh read (`saveStatusChanges`). A change that
 * an old row already holds changes nothing on the newer one either (the
 * status rules only move a row forward), so answering from memory never
 * loses a change. Bounded: past `capacity` devices, the one taken in first
 * is forgotten. Listing always reads the store.
 */
export const rememberingDeviceStatuses = (
  store: DeviceStatusesService,
  capacity = 10_000,
): RememberingDeviceStatuses => {
  const held = new Map<DeviceId, StoredDeviceStatus>();
  /** Every row of the store was loaded and none forgotten since: a device not held has no row. */
  let complete = false;
  const remember = (deviceId: DeviceId, row: StoredDeviceStatus) => {
    const before = held.get(deviceId);
    // Saves of one row can finish out of order: keep the newest revision.
    if (before !== undefined && before.revision >= row.revision) return;
    if (before === undefined && held.size >= capacity) {
      const oldest = held.keys().next();
      if (!oldest.done) held.delete(oldest.value);
      complete = false;
    }
    held.set(deviceId, row);
  };
  /** What a save's outcome teaches: the row as saved, or that the one held is old. */
  const learn = (
    status: FleetDeviceStatus,
    expectedRevision: number,
    outcome: "saved" | "changed",
  ) => {
    if (outcome === "saved")
      return remember(status.deviceId, { status, revision: expectedRevision + 1 });
    held.delete(status.deviceId);
    // Another process saved a row this one took for absent: read before the next save.
    if (expectedRevision === 0) complete = false;
  };
  const load = Effect.gen(function* () {
    let cursor: string | null = null;
    let rows = 0;
    do {
      const page: { rows: ReadonlyArray<StoredDeviceStatus>; nextCursor: string | null } =
        yield* store.listStored({ limit: 500, ...(cursor !== null ? { cursor } : {}) });
      for (const row of page.rows) remember(row.status.deviceId, row);
      rows += page.rows.length;
      cursor = page.nextCursor;
    } while (cursor !== null);
    complete = rows <= capacity;
    return held.size;
  });
  return {
    get: (deviceId) => {
      const row = held.get(deviceId);
      if (row !== undefined) return Effect.succeed(row);
      if (complete) return Effect.succeed(null);
      return Effect.tap(store.get(deviceId), (fresh) => {
        if (fresh !== null) remember(deviceId, fresh);
      });
    },
    save: (status, expectedRevision) =>
      Effect.tap(store.save(status, expectedRevision), (outcome) =>
        learn(status, expectedRevision, outcome),
      ),
    saveAll: (rows) =>
      Effect.tap(store.saveAll(rows), (outcomes) => {
        for (const [i, { status, expectedRevision }] of rows.entries())
          learn(status, expectedRevision, outcomes[i] ?? "changed");
      }),
    list: (page) => store.list(page),
    listStored: (page) => store.listStored(page),
    load,
  };
};
