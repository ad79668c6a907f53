import {
  type Commit,
  type DeviceId,
  type DeviceStream,
  type EventStoreService,
  VersionConflict,
} from "@medusa/domain";
import { Effect } from "effect";

export interface InMemoryEventStore extends EventStoreService {
  /** Every stream, for projections across devices in tests and the local stack. */
  readonly streams: () => ReadonlyArray<DeviceStream>;
  /** Called after every accepted commit (how re-attribution hears of changes in process). */
  readonly onCommit: (listener: (commit: Commit) => void) => () => void;
}

/**
 * The event store's in-memory twin: same contract as the DynamoDB store
 * (append only at the next version, all-or-nothing), for fast tests.
 */
export const makeInMemoryEventStore = (): InMemoryEventStore => {
  const streams = new Map<DeviceId, Array<Commit>>();
  const listeners = new Set<(commit: Commit) => void>();
  return {
    load: (deviceId) =>
      Effect.sync(() => {
        const commits = [...(streams.get(deviceId) ?? [])];
        return { deviceId, version: commits.length, commits };
      }),
    append: (commit) =>
      Effect.suspend(() => {
        const commits = streams.get(commit.deviceId) ?? [];
        if (commit.version !== commits.length + 1) {
          return Effect.fail(
            new VersionConflict({ deviceId: commit.deviceId, expectedVersion: commit.version - 1 }),
          );
        }
        commits.push(commit);
        streams.set(commit.deviceId, commits);
        for (const listener of listeners) listener(commit);
        return Effect.void;
      }),
    streams: () =>
      [...streams.entries()].map(([deviceId, commits]) => ({
        deviceId,
        version: commits.length,
        commits: [...commits],
      })),
    onCommit: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
};
