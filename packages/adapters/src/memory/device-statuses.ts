import type {
  DeviceId,
  DeviceStatusesService,
  FleetDeviceStatus,
  InvalidCursor,
  StoredDeviceStatus,
  StoredDeviceStatusPage,
} from "@medusa/domain";
import { Effect } from "effect";
import { decodeStatusCursor, encodeStatusCursor } from "../fleet/cursors.js";

/**
 * The device statuses' in-memory twin: one row per device with its revision;
 * a save names the revision it read, as DynamoDB's conditional write does;
 * listed in device id order, a page at a time.
 */
export const makeInMemoryDeviceStatuses = (): DeviceStatusesService => {
  const rows = new Map<DeviceId, StoredDeviceStatus>();
  const saveRow = (status: FleetDeviceStatus, expectedRevision: number): "saved" | "changed" => {
    if ((rows.get(status.deviceId)?.revision ?? 0) !== expectedRevision) return "changed";
    rows.set(status.deviceId, { status, revision: expectedRevision + 1 });
    return "saved";
  };
  const listStored = (page: {
    readonly limit: number;
    readonly cursor?: string;
  }): Effect.Effect<StoredDeviceStatusPage, InvalidCursor> =>
    Effect.gen(function* () {
      const after = page.cursor === undefined ? null : yield* decodeStatusCursor(page.cursor);
      const ids = [...rows.keys()].filter((d) => after === null || d > after).sort();
      const taken = ids.slice(0, page.limit);
      const last = taken.at(-1);
      return {
        rows: taken.flatMap((d) => {
          const row = rows.get(d);
          return row === undefined ? [] : [row];
        }),
        nextCursor:
          ids.length > taken.length && last !== undefined ? encodeStatusCursor(last) : null,
      };
    });
  return {
    get: (deviceId) => Effect.sync(() => rows.get(deviceId) ?? null),
    save: (status, expectedRevision) => Effect.sync(() => saveRow(status, expectedRevision)),
    saveAll: (all) =>
      Effect.sync(() =>
        all.map(({ status, expectedRevision }) => saveRow(status, expectedRevision)),
      ),
    list: (page) =>
      Effect.map(listStored(page), (stored) => ({
        statuses: stored.rows.map((row) => row.status),
        nextCursor: stored.nextCursor,
      })),
    listStored,
  };
};
