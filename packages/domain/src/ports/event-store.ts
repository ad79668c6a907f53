import { Context, type Effect, Schema } from "effect";
import { AssignmentEvent } from "../assignment.js";
import type { VersionConflict } from "../errors.js";
import { CommandId, DeviceId, EpochMillis } from "../ids.js";

/**
 * The events of one accepted command, appended all-or-nothing. Versions count
 * commits from 1; an empty stream is at version 0.
 */
export const Commit = Schema.Struct({
  deviceId: DeviceId,
  version: Schema.Number.pipe(Schema.int(), Schema.positive()),
  commandId: CommandId,
  committedAt: EpochMillis,
  events: Schema.NonEmptyArray(AssignmentEvent),
});
export type Commit = typeof Commit.Type;

/** A device's stream as loaded: every commit, in order, and the current version. */
export interface DeviceStream {
  readonly deviceId: DeviceId;
  readonly version: number;
  readonly commits: ReadonlyArray<Commit>;
}

/** The store could not be reached or answered with an error (not a business rule). */
export class EventStoreUnavailable extends Schema.TaggedError<EventStoreUnavailable>()(
  "EventStoreUnavailable",
  { operation: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `event store ${this.operation} failed: ${this.reason}`;
  }
}

/**
 * The assignment event log, one stream per device. `append` succeeds only if
 * `commit.version` is the stream's next version (optimistic concurrency:
 * exactly one of several concurrent appends at one version wins; the others
 * get `VersionConflict`). The log is append-only.
 */
export class EventStore extends Context.Tag("@medusa/EventStore")<
  EventStore,
  {
    readonly load: (deviceId: DeviceId) => Effect.Effect<DeviceStream, EventStoreUnavailable>;
    readonly append: (
      commit: Commit,
    ) => Effect.Effect<void, VersionConflict | EventStoreUnavailable>;
  }
>() {}

export const eventsOf = (commits: ReadonlyArray<Commit>): ReadonlyArray<AssignmentEvent> =>
  commits.flatMap((c) => c.events);

export type EventStoreService = Context.Tag.Service<EventStore>;
