import { Effect, Either } from "effect";
import { type AssignmentEvent, type AssignmentState, replay } from "./assignment.js";
import type { AssignmentCommand } from "./commands.js";
import { type DecisionPolicy, decide, defaultPolicy } from "./decide.js";
import { type AssignmentRejection, VersionConflict } from "./errors.js";
import {
  type Commit,
  type DeviceStream,
  EventStore,
  type EventStoreUnavailable,
  eventsOf,
} from "./event-store.js";

export interface CommandOutcome {
  readonly commit: Commit;
  /** True when this command id had already been accepted: nothing was appended. */
  readonly duplicate: boolean;
  /** The device's state after the commit. */
  readonly state: AssignmentState;
}

export interface ExecuteOptions {
  /** Fail with `VersionConflict` unless the stream is at this version. */
  readonly expectedVersion?: number;
  readonly policy?: DecisionPolicy;
}

export type CommandFailure = AssignmentRejection | VersionConflict | EventStoreUnavailable;

/**
 * Runs one command against its device's stream: load, decide, append. A
 * command id already in the stream returns the first outcome and appends
 * nothing (invariant 8). When another command wins the race for the version,
 * the stream is read again once: if the winner was this same command (a
 * concurrent retry), that is a duplicate; otherwise the caller gets
 * `VersionConflict` and may retry on fresh state (invariant 9).
 */
export const executeCommand = (
  command: AssignmentCommand,
  options: ExecuteOptions = {},
): Effect.Effect<CommandOutcome, CommandFailure, EventStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore;
    const stream = yield* store.load(command.deviceId);
    const seen = previousOutcome(stream, command);
    if (seen) return seen;
    if (options.expectedVersion !== undefined && options.expectedVersion !== stream.version) {
      return yield* new VersionConflict({
        deviceId: command.deviceId,
        expectedVersion: options.expectedVersion,
      });
    }
    const before = replay(eventsOf(stream.commits));
    const decision = decide(command, before, options.policy ?? defaultPolicy);
    if (Either.isLeft(decision)) return yield* decision.left;
    const [first, ...rest] = decision.right;
    if (first === undefined) {
      return yield* Effect.die(new Error("decide accepted a command without events"));
    }
    const commit: Commit = {
      deviceId: command.deviceId,
      version: stream.version + 1,
      commandId: command.commandId,
      committedAt: command.now,
      events: [first, ...rest],
    };
    return yield* store.append(commit).pipe(
      Effect.as<CommandOutcome>({ commit, duplicate: false, state: replay(commit.events, before) }),
      Effect.catchTag("VersionConflict", (conflict) =>
        store.load(command.deviceId).pipe(
          Effect.flatMap((fresh) => {
            const winner = previousOutcome(fresh, command);
            return winner ? Effect.succeed(winner) : Effect.fail(conflict);
          }),
        ),
      ),
    );
  });

const previousOutcome = (
  stream: DeviceStream,
  command: AssignmentCommand,
): CommandOutcome | undefined => {
  const index = stream.commits.findIndex((c) => c.commandId === command.commandId);
  if (index < 0) return undefined;
  const events: Array<AssignmentEvent> = [];
  for (let i = 0; i <= index; i++) events.push(...(stream.commits[i] as Commit).events);
  return { commit: stream.commits[index] as Commit, duplicate: true, state: replay(events) };
};
