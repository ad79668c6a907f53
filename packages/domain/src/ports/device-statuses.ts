import { Context, type Effect } from "effect";
import type { FleetDeviceStatus } from "../fleet/device-status.js";
import type { DeviceId } from "../ids.js";
import type { InvalidCursor } from "./sensor-store.js";
import type { StorageUnavailable } from "./storage.js";

/** A device's status as stored, with the revision a save must name. */
export interface StoredDeviceStatus {
  readonly status: FleetDeviceStatus;
  /** Counts the saves of this row from 1. */
  readonly revision: number;
}

/** A page of the fleet's rows as stored, each with its revision. */
export interface StoredDeviceStatusPage {
  readonly rows: ReadonlyArray<StoredDeviceStatus>;
  /** Opaque: the page after the last row given; null on the last page. */
  readonly nextCursor: string | null;
}

/** A page of the fleet's statuses. */
export interface DeviceStatusPage {
  readonly statuses: ReadonlyArray<FleetDeviceStatus>;
  /** Opaque: the page after the last status given; null on the last page. */
  readonly nextCursor: string | null;
}

/**
 * The fleet's device statuses, one row per device: the read model that
 * presence events and assignment commits feed. A save names the revision it
 * read (optimistic concurrency): of two updates of one device at once, one
 * saves and the other is told `"changed"` and decides again on the fresh row,
 * so the order the pure model decides (`applyPresence`) is what is stored,
 * whatever the order of the writes.
 */
export class DeviceStatuses extends Context.Tag("@medusa/DeviceStatuses")<
  DeviceStatuses,
  {
    /** The device's row, or null when it has none. */
    readonly get: (
      deviceId: DeviceId,
    ) => Effect.Effect<StoredDeviceStatus | null, StorageUnavailable>;
    /**
     * Saves `status` if the row is still at `expectedRevision` (0: no row yet),
     * as revision `expectedRevision + 1`; `"changed"` when another save came first.
     */
    readonly save: (
      status: FleetDeviceStatus,
      expectedRevision: number,
    ) => Effect.Effect<"saved" | "changed", StorageUnavailable>;
    /**
     * Saves each row as `save` does (if still at its revision) and answers
     * in order: rows of different devices, in one request where the store
     * can (DynamoDB: a TransactWriteItems of up to 100 rows, all or none, so
     * a row refused is answered `"changed"` and the others are sent again
     * without it). For a process that saves many devices' rows at once.
     */
    readonly saveAll: (
      rows: ReadonlyArray<{
        readonly status: FleetDeviceStatus;
        readonly expectedRevision: number;
      }>,
    ) => Effect.Effect<ReadonlyArray<"saved" | "changed">, StorageUnavailable>;
    /** Every row once across the pages, in the store's order; `limit` rows at most. */
    readonly list: (page: {
      readonly limit: number;
      readonly cursor?: string;
    }) => Effect.Effect<DeviceStatusPage, InvalidCursor | StorageUnavailable>;
    /**
     * `list`'s pages as stored: each row with the revision a save must name
     * (for a writer that loads the rows it will save; the same cursors).
     */
    readonly listStored: (page: {
      readonly limit: number;
      readonly cursor?: string;
    }) => Effect.Effect<StoredDeviceStatusPage, InvalidCursor | StorageUnavailable>;
  }
>() {}

export type DeviceStatusesService = Context.Tag.Service<DeviceStatuses>;
