import { Context, type Effect } from "effect";
import type { DeviceId, PatientId } from "../ids.js";
import type { AssignmentInterval } from "../projections.js";
import type { StorageUnavailable } from "./storage.js";

/**
 * The device–patient mapping: the read model derived from the assignment
 * events (written in the same transaction as each commit), shaped like the
 * historical table that existing tools query.
 */
export class AssignmentReadModel extends Context.Tag("@medusa/AssignmentReadModel")<
  AssignmentReadModel,
  {
    /** A device's intervals, oldest first. */
    readonly deviceIntervals: (
      deviceId: DeviceId,
    ) => Effect.Effect<ReadonlyArray<AssignmentInterval>, StorageUnavailable>;
    /** The device's assignment now, or null: one row read, however long its history. */
    readonly currentAssignment: (
      deviceId: DeviceId,
    ) => Effect.Effect<AssignmentInterval | null, StorageUnavailable>;
    /** Every interval naming the patient, across devices, oldest first. */
    readonly patientIntervals: (
      patientId: PatientId,
    ) => Effect.Effect<ReadonlyArray<AssignmentInterval>, StorageUnavailable>;
  }
>() {}

export type AssignmentReadModelService = Context.Tag.Service<AssignmentReadModel>;
