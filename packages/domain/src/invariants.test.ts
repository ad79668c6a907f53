import { Effect, Either, Layer } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CommandRequest,
  executeCommand,
  executeRequest,
} from "./application/execute-command.js";
import { type AssignmentEvent, initialState, replay } from "./assignment.js";
import { type AssignmentCommand, isCorrection } from "./commands.js";
import { decide, defaultPolicy } from "./decide.js";
import { type DeviceAlreadyAssigned, VersionConflict } from "./errors.js";
import { actor, commandId, type DeviceId, epochMillis, patientId } from "./ids.js";
import { Clock } from "./ports/clock.js";
import { type Commit, EventStore, eventsOf } from "./ports/event-store.js";
import { IdempotencyKeys } from "./ports/idempotency.js";
import { intervalsOf, patientActiveDevices } from "./projections.js";
import { clinicDays, commandsFrom, scenario } from "./testing/arbitraries.js";
import { ReferenceModel } from "./testing/reference-model.js";

type Fixture = typeof scenario extends fc.Arbitrary<infer S> ? S : never;

/** Runs a generated scenario through the decider, calling `check` after every command. */
const run = (
  { devices, patients, steps }: Fixture,
  check: (logs: Map<DeviceId, Array<AssignmentEvent>>, model: ReferenceModel) => void = () => {},
) => {
  const logs = new Map<DeviceId, Array<AssignmentEvent>>();
  const model = new ReferenceModel(defaultPolicy.maxFutureSkewMs);
  for (const command of commandsFrom(devices, patients, steps)) {
    const log = logs.get(command.deviceId) ?? [];
    const before = replay(log);
    const decision = decide(command, before);
    const expected = model.apply(command);
    expect({
      accepted: Either.isRight(decision),
      error: Either.isLeft(decision) ? decision.left._tag : undefined,
    }).toEqual({ accepted: expected.ok, error: expected.ok ? undefined : expected.error });
    // A refused correction names the assignment it would collide with.
    if (Either.isLeft(decision) && decision.left._tag === "AssignmentsWouldOverlap")
      expect(decision.left.conflicting.start).toBe(
        expected.ok ? undefined : expected.conflictingStart,
      );
    if (Either.isRight(decision)) log.push(...decision.right);
    logs.set(command.deviceId, log);
    check(logs, model);
  }
  return { logs, model };
};

describe("reassignment invariants, corrections of the record included", () => {
  it("model-based: decider and reference model accept, reject and end in the same state", () => {
    fc.assert(
      // Busier days too, where amended periods move assignments past their neighbours.
      fc.property(fc.oneof(scenario, clinicDays), (fixture) => {
        run(fixture, (logs, model) => {
          for (const [deviceId, log] of logs) {
            const state = replay(log);
            const active = model.active(deviceId);
            expect(state._tag === "Assigned" ? state.current.patientId : null).toBe(
              active?.patientId ?? null,
            );
            expect(state.lastEventAt).toBe(model.lastAt(deviceId));
            expect(
              intervalsOf(log).map((i) => ({
                patientId: i.patientId,
                patientName: i.patientName ?? null,
                start: i.start,
                end: i.end,
                reason: i.endReason ?? null,
              })),
            ).toEqual(model.device(deviceId).intervals);
          }
        });
      }),
    );
  });

  it("invariant 1: a device has at most one active assignment at any time", () => {
    fc.assert(
      fc.property(scenario, (fixture) => {
        run(fixture, (logs) => {
          for (const log of logs.values()) {
            const intervals = intervalsOf(log);
            const open = intervals.filter((i) => i.end === null);
            expect(open.length).toBeLessThanOrEqual(1);
            if (open.length === 1) expect(intervals.at(-1)?.end).toBeNull();
            expect(replay(log)._tag).toBe(open.length === 1 ? "Assigned" : "Unassigned");
          }
        });
      }),
    );
  });

  it("invariant 2: a device's intervals [start, end) never overlap, are ordered and non-empty", () => {
    fc.assert(
      fc.property(scenario, (fixture) => {
        const { logs } = run(fixture);
        for (const log of logs.values()) {
          const intervals = intervalsOf(log);
          intervals.forEach((interval, k) => {
            if (interval.end !== null) expect(interval.end).toBeGreaterThan(interval.start);
            const next = intervals[k + 1];
            if (next) {
              expect(interval.end).not.toBeNull();
              expect(next.start).toBeGreaterThanOrEqual(interval.end as number);
            }
          });
        }
      }),
    );
  });

  it("invariant 3 (effective time): an ordinary command dated before the latest effective time of the device's assignments is rejected, not reordered", () => {
    fc.assert(
      fc.property(scenario, ({ devices, patients, steps }) => {
        const logs = new Map<DeviceId, Array<AssignmentEvent>>();
        for (const command of commandsFrom(devices, patients, steps)) {
          const log = logs.get(command.deviceId) ?? [];
          const before = replay(log);
          const latest = intervalsOf(log).at(-1);
          // The latest effective time is the newest live assignment's end, or its start while it lasts.
          expect(before.lastEventAt).toBe(latest ? (latest.end ?? latest.start) : null);
          const decision = decide(command, before);
          if (!isCorrection(command) && before.lastEventAt !== null) {
            if (command.at < before.lastEventAt)
              expect(Either.isLeft(decision) && decision.left._tag).toBe(
                "EventTimeBeforeLastEvent",
              );
            // What an ordinary command appends is never dated before it.
            if (Either.isRight(decision))
              for (const e of decision.right)
                expect("at" in e && e.at).toBeGreaterThanOrEqual(before.lastEventAt);
          }
          if (Either.isRight(decision)) log.push(...decision.right);
          logs.set(command.deviceId, log);
        }
      }),
    );
  });

  it("invariant 3 (recorded time): commits are recorded in order per stream, and a correction is stamped with its commit's time", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ devices, patients, steps }) => {
        const store = streams();
        for (const command of commandsFrom(devices, patients, steps)) {
          // Clocks disagree: some commands are recorded with a `now` before the last commit's.
          await store.run(executeCommand(command));
        }
        for (const device of devices) {
          const commits = store.commits(device);
          for (let k = 1; k < commits.length; k++)
            expect(commits[k]!.committedAt).toBeGreaterThanOrEqual(commits[k - 1]!.committedAt);
          for (const commit of commits)
            for (const e of commit.events)
              if ("recordedAt" in e) expect(e.recordedAt).toBe(commit.committedAt);
        }
      }),
    );
  });

  it("invariant 4 (decider): a rejected command produces no events; an accepted one only appends", () => {
    fc.assert(
      fc.property(scenario, ({ devices, patients, steps }) => {
        const logs = new Map<DeviceId, Array<AssignmentEvent>>();
        for (const command of commandsFrom(devices, patients, steps)) {
          const log = logs.get(command.deviceId) ?? [];
          const before = [...log];
          const decision = decide(command, replay(log));
          if (Either.isRight(decision)) {
            expect(decision.right.length).toBeGreaterThan(0);
            log.push(...decision.right);
            expect(log.slice(0, before.length)).toEqual(before);
            expect(replay(log)).toEqual(replay(decision.right, replay(before)));
          }
          logs.set(command.deviceId, log);
        }
      }),
    );
  });

  it("invariant 5: replaying the log in one pass or in any chunking gives the same state", () => {
    fc.assert(
      fc.property(scenario, fc.array(fc.nat(5), { maxLength: 20 }), (fixture, cuts) => {
        const { logs } = run(fixture);
        for (const log of logs.values()) {
          let state = initialState();
          let at = 0;
          for (const cut of cuts) {
            state = replay(log.slice(at, at + cut), state);
            at += cut;
          }
          state = replay(log.slice(at), state);
          expect(state).toEqual(replay(log));
        }
      }),
    );
  });

  it("invariant 6: a patient's active devices are exactly the devices whose current assignment names them", () => {
    fc.assert(
      fc.property(scenario, (fixture) => {
        const { logs, model } = run(fixture);
        const histories = [...logs.values()].flatMap((log) => intervalsOf(log));
        for (const patient of fixture.patients) {
          const active = patientActiveDevices(histories, patient).map((i) => i.deviceId as string);
          expect([...active].sort()).toEqual(model.activeDevicesOf(patient));
          for (const [deviceId, log] of logs) {
            const state = replay(log);
            const wears = state._tag === "Assigned" && state.current.patientId === patient;
            expect(active.includes(deviceId)).toBe(wears);
          }
        }
      }),
    );
  });

  it("invariant 8: retrying a command with the same command id is a no-op", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.nat(), async ({ devices, patients, steps }, pick) => {
        const store = streams();
        const commands = commandsFrom(devices, patients, steps);
        const outcomes = [];
        for (const command of commands) outcomes.push(await store.run(executeCommand(command)));
        const before = store.snapshot();
        // Any command retried later, with a later `now`: the first outcome, nothing appended.
        for (const k of [pick % Math.max(1, commands.length), commands.length - 1]) {
          const command = commands[k];
          const first = outcomes[k];
          if (command === undefined || first === undefined || Either.isLeft(first)) continue;
          const retry = await store.run(
            executeCommand({ ...command, now: epochMillis(command.now + 1) }),
          );
          expect(Either.isRight(retry) && retry.right.duplicate).toBe(true);
          expect(Either.isRight(retry) && retry.right.commit).toEqual(first.right.commit);
        }
        expect(store.snapshot()).toEqual(before);
      }),
    );
  });

  it("invariant 9: of concurrent commands at one version exactly one wins; losers get a conflict and can retry", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, fc.integer({ min: 2, max: 6 }), async (fixture, racers) => {
        const device = fixture.devices[0] as DeviceId;
        const all = commandsFrom([device], fixture.patients, fixture.steps);
        const prefix = all.slice(0, Math.max(0, all.length - racers));
        const candidates = all.slice(prefix.length);
        const store = streams();
        for (const command of prefix) await store.run(executeCommand(command));
        const version = store.version(device);
        const preState = replay(store.events(device));
        const outcomes = await Promise.all(
          candidates.map((c) => store.run(executeCommand(c, { expectedVersion: version }))),
        );
        const winners = outcomes.filter(Either.isRight);
        const acceptable = candidates.filter((c) => Either.isRight(decide(c, preState)));
        expect(winners).toHaveLength(acceptable.length > 0 ? 1 : 0);
        expect(store.version(device)).toBe(version + winners.length);
        for (const [k, outcome] of outcomes.entries()) {
          if (Either.isRight(outcome)) continue;
          const own = decide(candidates[k] as AssignmentCommand, preState);
          expect(["VersionConflict", Either.isLeft(own) ? own.left._tag : "-"]).toContain(
            outcome.left._tag,
          );
          if (outcome.left._tag !== "VersionConflict") continue;
          // On fresh state, the retry gets exactly what the decider says about that state.
          const fresh = decide(candidates[k] as AssignmentCommand, replay(store.events(device)));
          const retry = await store.run(executeCommand(candidates[k] as AssignmentCommand));
          expect(Either.isRight(retry) ? "accepted" : retry.left._tag).toBe(
            Either.isRight(fresh) ? "accepted" : fresh.left._tag,
          );
        }
      }),
    );
  });
});

/**
 * A minimal event store for the service-level invariants (the real ones, and
 * their contract, are in `@medusa/adapters`): append only at the next version,
 * and a yield after every load, so that concurrent commands all read before
 * any appends — a real race for the version.
 */
const streams = () => {
  const logs = new Map<DeviceId, Array<Commit>>();
  const service = {
    load: (deviceId: DeviceId) =>
      Effect.sync(() => {
        const commits = [...(logs.get(deviceId) ?? [])];
        return { deviceId, version: commits.length, commits };
      }).pipe(Effect.zipLeft(Effect.yieldNow())),
    append: (commit: Commit) =>
      Effect.suspend(() => {
        const commits = logs.get(commit.deviceId) ?? [];
        if (commit.version !== commits.length + 1)
          return Effect.fail(
            new VersionConflict({ deviceId: commit.deviceId, expectedVersion: commit.version - 1 }),
          );
        logs.set(commit.deviceId, [...commits, commit]);
        return Effect.void;
      }),
  };
  return {
    run: <A, E>(effect: Effect.Effect<A, E, EventStore>) =>
      Effect.runPromise(Effect.either(Effect.provideService(effect, EventStore, service))),
    version: (deviceId: DeviceId) => logs.get(deviceId)?.length ?? 0,
    events: (deviceId: DeviceId) => eventsOf(logs.get(deviceId) ?? []),
    commits: (deviceId: DeviceId): ReadonlyArray<Commit> => logs.get(deviceId) ?? [],
    snapshot: () => structuredClone([...logs.entries()]),
  };
};

describe("a lost race is decided again on the fresh stream", () => {
  const device = "pi-race" as DeviceId;
  const assign = (id: string, patient: string) =>
    ({
      _tag: "AssignDevice",
      commandId: id,
      deviceId: device,
      actor: "nurse@clinic.example",
      patientId: patient,
      at: epochMillis(1_700_000_000_000),
      now: epochMillis(1_700_000_000_000),
    }) as AssignmentCommand;

  it("of two concurrent assigns, the loser is told the device is already assigned, naming the winner", async () => {
    const store = streams();
    const [a, b] = await Promise.all([
      store.run(executeCommand(assign("c-a", "P-A"))),
      store.run(executeCommand(assign("c-b", "P-B"))),
    ]);
    const outcomes = [a, b].map((o) =>
      Either.isRight(o) ? "accepted" : (o.left as { _tag: string })._tag,
    );
    expect(outcomes.sort()).toEqual(["DeviceAlreadyAssigned", "accepted"]);
    const loser = [a, b].find(Either.isLeft);
    const winner = replay(store.events(device));
    expect(winner._tag).toBe("Assigned");
    expect(loser && (loser.left as DeviceAlreadyAssigned).current).toEqual(
      winner._tag === "Assigned" ? winner.current : undefined,
    );
    expect(store.version(device)).toBe(1);
  });

  it("a loser whose time came before the winner's, and which gave none, is told the device is assigned (its time is the re-decide's)", async () => {
    const store = streams();
    // The first request to read the clock wins the race for the version, but
    // the second read an earlier time (clocks of two API instances; or the
    // winner's time simply came later within the same millisecond's work).
    const t0 = 1_700_000_000_000;
    const times = [t0 + 5, t0];
    const clock = Layer.succeed(Clock, {
      now: Effect.sync(() => epochMillis(times.shift() ?? t0 + 10)),
    });
    const request = (id: string, patient: string) => ({
      _tag: "AssignDevice" as const,
      commandId: commandId(id),
      deviceId: device,
      actor: actor("nurse@clinic.example"),
      patientId: patientId(patient),
    });
    // No request here carries an idempotency key.
    const keys = Layer.succeed(IdempotencyKeys, { claim: () => Effect.void });
    const run = (r: CommandRequest) =>
      store.run(Effect.provide(executeRequest(r), Layer.merge(clock, keys)));
    const [a, b] = await Promise.all([run(request("c-a", "P-A")), run(request("c-b", "P-B"))]);
    expect(Either.isRight(a)).toBe(true);
    expect(Either.isLeft(b) && b.left._tag).toBe("DeviceAlreadyAssigned");
    // Given a time of its own, a command keeps it: then its time is what is wrong.
    const backdated = await store.run(
      Effect.provide(
        executeRequest({ ...request("c-c", "P-C"), at: epochMillis(t0 - 1) }),
        Layer.merge(clock, keys),
      ),
    );
    expect(Either.isLeft(backdated) && backdated.left._tag).toBe("EventTimeBeforeLastEvent");
  });

  it("a concurrent retry of the same command is the one commit, twice", async () => {
    const store = streams();
    const [a, b] = await Promise.all([
      store.run(executeCommand(assign("c-same", "P-A"))),
      store.run(executeCommand(assign("c-same", "P-A"))),
    ]);
    expect([a, b].every(Either.isRight)).toBe(true);
    expect([a, b].map((o) => Either.isRight(o) && o.right.duplicate).sort()).toEqual([false, true]);
    expect(store.version(device)).toBe(1);
  });

  it("a command that loses twice is a typed VersionConflict: the re-decide is bounded", async () => {
    // A store whose every append loses the race (another writer always got there first).
    let loads = 0;
    const busy = {
      load: (deviceId: DeviceId) =>
        Effect.sync(() => {
          loads++;
          return { deviceId, version: 0, commits: [] };
        }),
      append: (commit: Commit) =>
        Effect.fail(new VersionConflict({ deviceId: commit.deviceId, expectedVersion: 0 })),
    };
    const r = await Effect.runPromise(
      Effect.either(Effect.provideService(executeCommand(assign("c-x", "P-X")), EventStore, busy)),
    );
    expect(Either.isLeft(r) && r.left._tag).toBe("VersionConflict");
    expect(loads).toBe(2);
  });
});
