import type { EventStoreService } from "@medusa/domain";
import {
  type AssignDevice,
  type AssignmentCommand,
  actor,
  type Commit,
  commandId,
  type DeviceId,
  decide,
  defaultPolicy,
  deviceId,
  EventStore,
  type EventStoreUnavailable,
  epochMillis,
  eventsOf,
  executeCommand,
  intervalsOf,
  patientId,
  type ReassignDevice,
  replay,
  VersionConflict,
} from "@medusa/domain";
import { commandsFrom, ReferenceModel, scenario, T0 } from "@medusa/domain/testing";
import { Effect, Either } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

export interface ContractOptions {
  /** Cases for the property tests: fast-check's global setting (1,000, or `FC_NUM_RUNS`) unless given; smaller for slow stores. */
  readonly numRuns?: number;
  /** How many concurrent commands race for one version. */
  readonly concurrency: number;
}

const nurse = actor("nurse@clinic.example");
let runs = 0;
/** Device ids unique to one test case, so a shared table needs no cleanup. */
const freshDevice = (label: string): DeviceId =>
  deviceId(`${label}-${process.pid}-${Date.now().toString(36)}-${(runs++).toString(36)}`);

/**
 * The behaviour every event store must have (the in-memory twin and the
 * DynamoDB store run the same suite): append only at the next version,
 * all-or-nothing; a command id is applied once (invariant 8); of concurrent
 * commands at one version exactly one wins (invariant 9); the log only grows
 * (invariant 4).
 */
export const eventStoreContract = (
  name: string,
  store: () => EventStoreService,
  options: ContractOptions,
) => {
  const run = <A, E>(effect: Effect.Effect<A, E, EventStore>) =>
    Effect.runPromise(Effect.either(Effect.provideService(effect, EventStore, store())));
  const load = (id: DeviceId) => Effect.runPromise(store().load(id));
  const runs = options.numRuns === undefined ? {} : { numRuns: options.numRuns };
  /**
   * The store with a yield after every load, so that concurrent commands all
   * read the stream before any of them appends, even on a store that answers
   * synchronously (the in-memory twin): a real race for the version.
   */
  const runInterleaved = <A, E>(effect: Effect.Effect<A, E, EventStore>) => {
    const inner = store();
    const racy: EventStoreService = {
      load: (id) => Effect.zipLeft(inner.load(id), Effect.yieldNow()),
      append: (commit) => inner.append(commit),
    };
    return Effect.runPromise(Effect.either(Effect.provideService(effect, EventStore, racy)));
  };

  const assign = (
    device: DeviceId,
    patient: string,
    at: number,
    id = `assign-${patient}-${at}`,
  ): AssignDevice => ({
    _tag: "AssignDevice",
    commandId: commandId(id),
    deviceId: device,
    actor: nurse,
    patientId: patientId(patient),
    patientName: `Name of ${patient}`,
    notes: "left wrist",
    at: epochMillis(at),
    now: epochMillis(at),
  });
  const reassign = (device: DeviceId, patient: string, at: number, id: string): ReassignDevice => ({
    _tag: "ReassignDevice",
    commandId: commandId(id),
    deviceId: device,
    actor: nurse,
    patientId: patientId(patient),
    reason: "completed",
    at: epochMillis(at),
    now: epochMillis(at),
  });

  describe(`event store contract: ${name}`, () => {
    it("an unknown device has an empty stream at version 0", async () => {
      const id = freshDevice("empty");
      expect(await load(id)).toEqual({ deviceId: id, version: 0, commits: [] });
    });

    it("appends only at the next version and keeps every field of a commit", async () => {
      const id = freshDevice("append");
      const commit: Commit = {
        deviceId: id,
        version: 1,
        commandId: commandId("c-1"),
        committedAt: epochMillis(T0 + 5),
        events: [
          {
            _tag: "DeviceAssigned",
            deviceId: id,
            patientId: patientId("P1"),
            patientName: "Ada",
            notes: "n",
            assignedBy: nurse,
            at: epochMillis(T0),
          },
        ],
      };
      await Effect.runPromise(store().append(commit));
      const again = await Effect.runPromise(Effect.either(store().append(commit)));
      expect(Either.isLeft(again) && again.left._tag).toBe("VersionConflict");
      const gap = await Effect.runPromise(
        Effect.either(store().append({ ...commit, version: 3, commandId: commandId("c-3") })),
      );
      expect(Either.isLeft(gap) && gap.left._tag).toBe("VersionConflict");
      const second: Commit = {
        ...commit,
        version: 2,
        commandId: commandId("c-2"),
        events: [
          {
            _tag: "AssignmentEnded",
            deviceId: id,
            patientId: patientId("P1"),
            start: epochMillis(T0),
            endedBy: nurse,
            at: epochMillis(T0 + 10),
            reason: "device_returned",
          },
          {
            _tag: "DeviceAssigned",
            deviceId: id,
            patientId: patientId("P2"),
            assignedBy: nurse,
            at: epochMillis(T0 + 10),
          },
        ],
      };
      await Effect.runPromise(store().append(second));
      expect(await load(id)).toEqual({ deviceId: id, version: 2, commits: [commit, second] });
    });

    it("invariant 4: an accepted command only appends; a rejected one appends nothing", async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ patients, steps }) => {
          const devices = [freshDevice("inv4a"), freshDevice("inv4b")];
          for (const command of commandsFrom(devices, patients, steps)) {
            const before = await load(command.deviceId);
            const outcome = await run(executeCommand(command));
            const after = await load(command.deviceId);
            if (Either.isRight(outcome)) {
              expect(after.commits.slice(0, before.commits.length)).toEqual(before.commits);
              expect(after.version).toBe(before.version + 1);
            } else {
              expect(after).toEqual(before);
            }
          }
        }),
        runs,
      );
    });

    it("invariant 8: retrying a command with the same command id is a no-op", async () => {
      const id = freshDevice("retry");
      const command = assign(id, "P1", T0, "the-one");
      const first = await run(executeCommand(command));
      const retry = await run(executeCommand(command));
      const later = await run(executeCommand({ ...command, now: epochMillis(T0 + 60_000) }));
      expect(Either.isRight(first) && first.right.duplicate).toBe(false);
      for (const again of [retry, later]) {
        expect(Either.isRight(again) && again.right.duplicate).toBe(true);
        expect(Either.isRight(again) && again.right.commit).toEqual(
          Either.isRight(first) && first.right.commit,
        );
      }
      expect((await load(id)).version).toBe(1);
      // Concurrent retries of one command: applied once, every caller sees success.
      const other = freshDevice("retry-race");
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          runInterleaved(executeCommand(assign(other, "P2", T0, "same-id"))),
        ),
      );
      expect(results.every(Either.isRight)).toBe(true);
      expect(results.filter((r) => Either.isRight(r) && !r.right.duplicate)).toHaveLength(1);
      expect((await load(other)).version).toBe(1);
    });

    const race = async (
      device: DeviceId,
      commands: ReadonlyArray<AssignmentCommand>,
      expectedVersion: number,
    ) => {
      const results = await Promise.all(
        commands.map((c) => runInterleaved(executeCommand(c, { expectedVersion }))),
      );
      const winners = results.filter(Either.isRight);
      const losers = results.filter(Either.isLeft).map((r) => r.left._tag);
      const stream = await load(device);
      return { winners, losers, stream };
    };

    it(`invariant 9: ${options.concurrency} concurrent assigns at one version: exactly one wins`, async () => {
      const id = freshDevice("race-assign");
      const { winners, losers, stream } = await race(
        id,
        Array.from({ length: options.concurrency }, (_, k) =>
          assign(id, `P${k}`, T0 + k, `race-${k}`),
        ),
        0,
      );
      expect(winners).toHaveLength(1);
      for (const tag of losers) expect(["VersionConflict", "DeviceAlreadyAssigned"]).toContain(tag);
      expect(stream.version).toBe(1);
      const intervals = intervalsOf(eventsOf(stream.commits));
      expect(intervals.filter((i) => i.end === null)).toHaveLength(1);
      // The losers retry on fresh state and get the business answer.
      const retried = await run(executeCommand(assign(id, "P-late", T0 + 1_000, "late")));
      expect(Either.isLeft(retried) && retried.left._tag).toBe("DeviceAlreadyAssigned");
    });

    it(`invariant 9: ${options.concurrency} concurrent reassignments at one version: exactly one wins`, async () => {
      const id = freshDevice("race-reassign");
      expect(Either.isRight(await run(executeCommand(assign(id, "P0", T0, "first"))))).toBe(true);
      const { winners, losers, stream } = await race(
        id,
        Array.from({ length: options.concurrency }, (_, k) =>
          reassign(id, `Q${k}`, T0 + 1_000 + k, `re-${k}`),
        ),
        1,
      );
      expect(winners).toHaveLength(1);
      for (const tag of losers) expect(tag).toBe("VersionConflict");
      expect(stream.version).toBe(2);
      const intervals = intervalsOf(eventsOf(stream.commits));
      expect(intervals).toHaveLength(2);
      expect(intervals.filter((i) => i.end === null)).toHaveLength(1);
      expect(intervals[0]?.end).toBe(intervals[1]?.start);
    });

    it(`invariant 9: ${options.concurrency} concurrent assigns with no expected version: the losers are told who won`, async () => {
      const id = freshDevice("race-redecide");
      const results = await Promise.all(
        Array.from({ length: options.concurrency }, (_, k) =>
          runInterleaved(executeCommand(assign(id, `P${k}`, T0, `redecide-${k}`))),
        ),
      );
      const winners = results.filter(Either.isRight);
      expect(winners).toHaveLength(1);
      const [winner] = winners;
      const current = winner && replay(winner.right.commit.events);
      for (const r of results.filter(Either.isLeft)) {
        // Decided again on the stream the winner left: already assigned, naming the winner.
        expect(r.left._tag).toBe("DeviceAlreadyAssigned");
        expect(r.left._tag === "DeviceAlreadyAssigned" && r.left.current).toEqual(
          current?._tag === "Assigned" ? current.current : undefined,
        );
      }
      expect((await load(id)).version).toBe(1);
    });

    it("a stale expected version is a VersionConflict even without a race", async () => {
      const id = freshDevice("stale");
      await run(executeCommand(assign(id, "P0", T0, "a")));
      const stale = await run(
        executeCommand(reassign(id, "P1", T0 + 5, "b"), { expectedVersion: 0 }),
      );
      expect(Either.isLeft(stale) && stale.left).toBeInstanceOf(VersionConflict);
    });

    it("invariant 8 (property): retrying any command, accepted or rejected, appends nothing", async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ patients, steps }) => {
          const devices = [freshDevice("inv8a"), freshDevice("inv8b")];
          const accepted: Array<{ command: AssignmentCommand; commit: Commit }> = [];
          for (const command of commandsFrom(devices, patients, steps)) {
            const outcome = await run(executeCommand(command));
            if (Either.isRight(outcome)) {
              accepted.push({ command, commit: outcome.right.commit });
              continue;
            }
            // A rejected command retried at once: the same rejection, nothing appended.
            const before = await load(command.deviceId);
            const again = await run(executeCommand(command));
            expect(Either.isLeft(again) && again.left._tag).toBe(outcome.left._tag);
            expect(await load(command.deviceId)).toEqual(before);
          }
          // Every accepted command retried later (clock moved on): its first outcome, nothing appended.
          const streams = await Promise.all(devices.map(load));
          for (const { command, commit } of accepted) {
            const retry = await run(
              executeCommand({ ...command, now: epochMillis(command.now + 3_600_000) }),
            );
            expect(Either.isRight(retry) && retry.right.duplicate).toBe(true);
            expect(Either.isRight(retry) && retry.right.commit).toEqual(commit);
          }
          expect(await Promise.all(devices.map(load))).toEqual(streams);
        }),
        runs,
      );
    });

    it("invariant 9 (property): of random concurrent commands at one version, exactly one acceptable one wins", async () => {
      await fc.assert(
        fc.asyncProperty(
          scenario,
          fc.integer({ min: 2, max: 8 }),
          async ({ patients, steps }, racers) => {
            const device = freshDevice("inv9");
            const all = commandsFrom([device], patients, steps);
            const prefix = all.slice(0, Math.max(0, all.length - racers));
            const candidates = all.slice(prefix.length);
            for (const command of prefix) await run(executeCommand(command));
            const pre = await load(device);
            const preState = replay(eventsOf(pre.commits));
            const acceptable = candidates.filter((c) => Either.isRight(decide(c, preState)));
            const outcomes = await Promise.all(
              candidates.map((c) =>
                runInterleaved(executeCommand(c, { expectedVersion: pre.version })),
              ),
            );
            const winners = outcomes.filter(Either.isRight);
            expect(winners).toHaveLength(acceptable.length > 0 ? 1 : 0);
            const post = await load(device);
            expect(post.version).toBe(pre.version + winners.length);
            expect(post.commits.slice(0, pre.commits.length)).toEqual(pre.commits);
            outcomes.forEach((outcome, k) => {
              if (Either.isRight(outcome)) return;
              const own = decide(candidates[k] as AssignmentCommand, preState);
              expect(["VersionConflict", Either.isLeft(own) ? own.left._tag : "-"]).toContain(
                outcome.left._tag,
              );
            });
            // A loser retries on fresh state and gets what the decider says about that state.
            for (const [k, outcome] of outcomes.entries()) {
              if (Either.isRight(outcome) || outcome.left._tag !== "VersionConflict") continue;
              const command = candidates[k] as AssignmentCommand;
              const fresh = replay(eventsOf((await load(device)).commits));
              const expected = decide(command, fresh);
              const retried = await run(executeCommand(command));
              expect(Either.isRight(retried) ? "accepted" : retried.left._tag).toBe(
                Either.isRight(expected) ? "accepted" : expected.left._tag,
              );
            }
          },
        ),
        runs,
      );
    });

    it("model-based: commands through the store agree with the reference model", async () => {
      await fc.assert(
        fc.asyncProperty(scenario, async ({ patients, steps }) => {
          const devices = [freshDevice("model-a"), freshDevice("model-b"), freshDevice("model-c")];
          const model = new ReferenceModel(defaultPolicy.maxFutureSkewMs);
          for (const command of commandsFrom(devices, patients, steps)) {
            const outcome: Either.Either<unknown, { _tag: string } | EventStoreUnavailable> =
              await run(executeCommand(command));
            const expected = model.apply(command);
            expect(Either.isRight(outcome) ? "accepted" : outcome.left._tag).toBe(
              expected.ok ? "accepted" : expected.error,
            );
          }
          for (const device of devices) {
            const state = replay(eventsOf((await load(device)).commits));
            expect(state._tag === "Assigned" ? state.current.patientId : null).toBe(
              model.active(device)?.patientId ?? null,
            );
          }
        }),
        runs,
      );
    });
  });
};
