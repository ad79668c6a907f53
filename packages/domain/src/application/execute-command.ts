import { Effect, Either } from "effect";
import { type AssignmentState, replay } from "../assignment.js";
import { type AssignmentCommand, isCorrection } from "../commands.js";
import { type DecisionPolicy, decide, defaultPolicy } from "../decide.js";
import { type AssignmentRejection, VersionConflict } from "../errors.js";
import type { EpochMillis } from "../ids.js";
import { Clock } from "../ports/clock.js";
import {
  type Commit,
  type DeviceStream,
  EventStore,
  type EventStoreUnavailable,
  eventsOf,
} from "../ports/event-store.js";
import { type IdempotencyKeyReused, IdempotencyKeys } from "../ports/idempotency.js";
import type { StorageUnavailable } from "../ports/storage.js";
import { recordedTime } from "../record.js";

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
  /**
   * For a command in effect "now" (its caller gave no time): the time of a
   * re-decide after a lost race, which becomes the command's `at` and `now`.
   * Its first time may be earlier than the winner's, and "now" then means
   * the later moment — so the loser hears what the new state says (the device
   * is assigned), not that its time lies before the winner's.
   */
  readonly now?: Effect.Effect<EpochMillis>;
}

export type CommandFailure = AssignmentRejection | VersionConflict | EventStoreUnavailable;

/** A request sent with an idempotency key: the key (scoped to its caller) and a hash of the request. */
export interface Idempotency {
  readonly key: string;
  readonly requestHash: string;
}

/**
 * A command as a caller gives it: `now` from the `Clock` when absent, and `at`
 * (for an ordinary command) defaulting to `now`.
 */
export type CommandRequest = AssignmentCommand extends infer C
  ? C extends AssignmentCommand
    ? C extends { readonly at: EpochMillis }
      ? Omit<C, "at" | "now"> & { readonly at?: EpochMillis; readonly now?: EpochMillis }
      : Omit<C, "now"> & { readonly now?: EpochMillis }
    : never
  : never;

/**
 * Runs one command against its device's stream, as Emmett's `handleCommand`
 * does: load, decide, append at the next version. A command id already in the
 * stream returns the first outcome and appends nothing (invariant 8). When
 * another command wins the race for the version, the command is decided once
 * more on the fresh stream (invariant 9): a concurrent retry of itself is a
 * duplicate; otherwise it gets the answer the new state gives (for an assign,
 * `DeviceAlreadyAssigned` naming the winner), or `VersionConflict` if it loses
 * again.
 */
export const executeCommand = (
  command: AssignmentCommand,
  options: ExecuteOptions = {},
): Effect.Effect<CommandOutcome, CommandFailure, EventStore> =>
  Effect.gen(function* () {
    const store = yield* EventStore;
    const policy = options.policy ?? defaultPolicy;
    const stream = yield* store.load(command.deviceId);
    if (options.expectedVersion !== undefined && options.expectedVersion !== stream.version) {
      const seen = previousOutcome(stream, command);
      if (seen) return seen;
      return yield* new VersionConflict({
        deviceId: command.deviceId,
        expectedVersion: options.expectedVersion,
      });
    }
    const first = attempt(store, command, stream, policy);
    // A caller that named the version wants nothing decided on another one.
    if (options.expectedVersion !== undefined) return yield* first;
    return yield* first.pipe(
      Effect.catchTag("VersionConflict", () =>
        Effect.gen(function* () {
          const fresh = yield* store.load(command.deviceId);
          const again = options.now ? inEffectAt(command, yield* options.now) : command;
          return yield* attempt(store, again, fresh, policy);
        }),
      ),
    );
  });

/**
 * A command as the API receives it: recorded now (the `Clock`), and in
 * effect now unless it says when it happened. With an idempotency key, the
 * key is claimed for this request first: the same key with another request
 * is refused (`IdempotencyKeyReused`) rather than answered with the first
 * request's outcome.
 */
export const executeRequest = (
  request: CommandRequest,
  options: ExecuteOptions & { readonly idempotency?: Idempotency } = {},
): Effect.Effect<
  CommandOutcome,
  CommandFailure | IdempotencyKeyReused | StorageUnavailable,
  EventStore | Clock | IdempotencyKeys
> =>
  Effect.gen(function* () {
    const clock = yield* Clock;
    const now = request.now ?? (yield* clock.now);
    if (options.idempotency) yield* (yield* IdempotencyKeys).claim({ ...options.idempotency, now });
    const at = "at" in request ? request.at : undefined;
    const inEffectNow = at === undefined && request.now === undefined;
    const command = (
      isCorrection(request as AssignmentCommand)
        ? { ...request, now }
        : { ...request, now, at: at ?? now }
    ) as AssignmentCommand;
    return yield* executeCommand(command, {
      ...options,
      ...(inEffectNow ? { now: clock.now } : {}),
    });
  });

/** A command in effect (and recorded) at `t`: a correction has no effective time, only `now`. */
const inEffectAt = (command: AssignmentCommand, t: EpochMillis): AssignmentCommand =>
  isCorrection(command) ? { ...command, now: t } : { ...command, at: t, now: t };

/** Decides on `stream` and appends at its next version. */
const attempt = (
  store: EventStore["Type"],
  command: AssignmentCommand,
  stream: DeviceStream,
  policy: DecisionPolicy,
): Effect.Effect<CommandOutcome, CommandFailure> => {
  const seen = previousOutcome(stream, command);
  if (seen) return Effect.succeed(seen);
  const before = replay(eventsOf(stream.commits));
  // Recorded time is monotonic per stream; a correction is stamped with the commit's time.
  const committedAt = recordedTime(stream.commits, command.now);
  const decided = isCorrection(command) ? { ...command, now: committedAt } : command;
  const decision = decide(decided, before, policy);
  if (Either.isLeft(decision)) return Effect.fail(decision.left);
  const commit: Commit = {
    deviceId: command.deviceId,
    version: stream.version + 1,
    commandId: command.commandId,
    committedAt,
    events: decision.right,
  };
  return Effect.as(store.append(commit), {
    commit,
    duplicate: false,
    state: replay(commit.events, before),
  });
};

const previousOutcome = (
  stream: DeviceStream,
  command: AssignmentCommand,
): CommandOutcome | undefined => {
  const index = stream.commits.findIndex((c) => c.commandId === command.commandId);
  if (index < 0) return undefined;
  const commit = stream.commits[index] as Commit;
  return {
    commit,
    duplicate: true,
    state: replay(eventsOf(stream.commits.slice(0, index + 1))),
  };
};
