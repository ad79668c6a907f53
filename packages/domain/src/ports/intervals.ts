import { Context, type Effect } from "effect";
import type { DeviceIntervals } from "../attribution.js";
import type { DeviceId } from "../ids.js";
import type { EventStoreUnavailable } from "./event-store.js";

/**
 * A device's assignment intervals as the ingest and re-attribution need them:
 * derived from its event stream, and possibly kept for a while so that a
 * message usually costs no read.
 */
export class AssignmentIntervals extends Context.Tag("@medusa/AssignmentIntervals")<
  AssignmentIntervals,
  {
    /** Perhaps up to the cache's time to live old (the ingest: re-attribution's second pass covers that). */
    readonly recent: (deviceId: DeviceId) => Effect.Effect<DeviceIntervals, EventStoreUnavailable>;
    /** Read now: holds every commit made before the call (re-attribution). */
    readonly current: (deviceId: DeviceId) => Effect.Effect<DeviceIntervals, EventStoreUnavailable>;
    /** The device's intervals changed: the next `recent` reads them again. */
    readonly forget: (deviceId: DeviceId) => Effect.Effect<void>;
  }
>() {}

export type AssignmentIntervalsService = Context.Tag.Service<AssignmentIntervals>;
