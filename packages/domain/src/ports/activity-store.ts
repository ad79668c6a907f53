import { Context, type Effect } from "effect";
import type { ActivityBlock, ActivityBlockKey } from "../activity/refresh.js";
import type { DeviceId, PatientId } from "../ids.js";
import type { StorageUnavailable, TimeRange } from "./storage.js";

/**
 * Activity blocks (a patient's epochs on one device over 15 minutes), one
 * per patient, device and block, kept equal to what the samples give by
 * `refreshActivity`. Ranges select blocks by their start.
 */
export class ActivityStore extends Context.Tag("@medusa/ActivityStore")<
  ActivityStore,
  {
    /** A device's blocks of every patient, read now (a refresh compares with them). */
    readonly deviceBlocks: (
      deviceId: DeviceId,
      range: TimeRange,
    ) => Effect.Effect<ReadonlyArray<ActivityBlock>, StorageUnavailable>;
    /** Writes `put` (replacing what its keys held) and deletes `remove`, for one device. */
    readonly apply: (
      deviceId: DeviceId,
      put: ReadonlyArray<ActivityBlock>,
      remove: ReadonlyArray<ActivityBlockKey>,
    ) => Effect.Effect<void, StorageUnavailable>;
    /** A patient's blocks from every device, ordered by start, then device. */
    readonly patientBlocks: (
      patientId: PatientId,
      range: TimeRange,
    ) => Effect.Effect<ReadonlyArray<ActivityBlock>, StorageUnavailable>;
  }
>() {}

export type ActivityStoreService = Context.Tag.Service<ActivityStore>;
