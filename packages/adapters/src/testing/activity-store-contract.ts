import {
  type ActivityBlock,
  type ActivityStoreService,
  type AssignmentCommand,
  AssignmentIntervals,
  activityBlocksOf,
  actor,
  attribute,
  BLOCK_MS,
  blockStartOf,
  type Clock,
  columnsOf,
  commandId,
  type DeviceId,
  deviceId,
  EventStore,
  type EventStoreService,
  epochMillis,
  executeCommand,
  keepingActivity,
  metricsOf,
  type PatientId,
  patientId,
  reattribute,
  SensorStore,
  type SensorStoreService,
  type StoredSegment,
} from "@medusa/domain";
import { record, walking } from "@medusa/domain/testing";
import { Effect, Layer } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clockFrom } from "../clock.js";
import { intervalCacheLayer } from "../interval-cache.js";

let runs = 0;
const unique = (label: string) =>
  `${label}-${process.pid}-${Date.now().toString(36)}-${(runs++).toString(36)}`;

/** Recordings in 2030, so DynamoDB Local's TTL sweeper never takes a fixture away. */
const DAY = Date.UTC(2030, 0, 7);
const MIN = 60_000;
const RETENTION_MS = 30 * 86_400_000;
const OPTIONS = { epochMs: 60_000, retentionMs: RETENTION_MS } as const;

/** Real blocks: a walk of `minutes` from `start`, on one device for one patient. */
const blocksOf = (
  device: DeviceId,
  patient: PatientId,
  start: number,
  minutes: number,
  seed = 1,
): Array<ActivityBlock> =>
  metricsOf(
    columnsOf(
      record(
        { start, durationMs: minutes * MIN },
        walking({ cadence: 100, amplitude: 0.4, seed }).motion,
      ),
    ),
    60_000,
  ).map((b) => ({
    ...b,
    deviceId: device,
    patientId: patient,
    ttl: Math.ceil((b.start + BLOCK_MS + RETENTION_MS) / 1000),
  }));

const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);

export interface ActivityContractStores {
  readonly activity: ActivityStoreService;
  readonly sensors: SensorStoreService;
  readonly events: EventStoreService;
}

/**
 * What every activity store does, and what keeping activity over it gives:
 * a stored block's metrics always equal those of the samples attributed to
 * its patient now, through ingest and any re-attribution.
 */
export const activityStoreContract = (
  name: string,
  stores: () => ActivityContractStores,
  options: { readonly numRuns?: number } = {},
) =>
  describe(`activity store contract (${name})`, () => {
    it("gives back exactly the blocks it stored: a device's by start then patient, a patient's by start then device", async () => {
      const { activity } = stores();
      const [d1, d2] = [deviceId(unique("dev-a")), deviceId(unique("dev-b"))];
      const [p1, p2] = [patientId(unique("pat-a")), patientId(unique("pat-b"))];
      const a = blocksOf(d1, p1, DAY + 5 * MIN, 40);
      const b = blocksOf(d1, p2, DAY + 20 * MIN, 10, 2);
      const c = blocksOf(d2, p1, DAY + 10 * MIN, 30, 3);
      await run(activity.apply(d1, [...a, ...b], []));
      await run(activity.apply(d2, c, []));
      const device = await run(activity.deviceBlocks(d1, { start: DAY, end: DAY + 4 * BLOCK_MS }));
      expect(device).toStrictEqual(
        [...a, ...b].sort((x, y) => x.start - y.start || (x.patientId < y.patientId ? -1 : 1)),
      );
      const patient = await run(
        activity.patientBlocks(p1, { start: DAY, end: DAY + 4 * BLOCK_MS }),
      );
      expect(patient).toStrictEqual(
        [...a, ...c].sort((x, y) => x.start - y.start || (x.deviceId < y.deviceId ? -1 : 1)),
      );
    });

    it("selects blocks by their start: from the range's start, before its end", async () => {
      const { activity } = stores();
      const d = deviceId(unique("dev"));
      const p = patientId(unique("pat"));
      const blocks = blocksOf(d, p, DAY, 60);
      await run(activity.apply(d, blocks, []));
      const starts = (bs: ReadonlyArray<ActivityBlock>) =>
        bs.map((b) => (b.start - DAY) / BLOCK_MS);
      const range = { start: DAY + BLOCK_MS, end: DAY + 3 * BLOCK_MS };
      expect(starts(await run(activity.deviceBlocks(d, range)))).toEqual([1, 2]);
      expect(starts(await run(activity.patientBlocks(p, range)))).toEqual([1, 2]);
      expect(await run(activity.patientBlocks(p, { start: DAY + 1, end: DAY + BLOCK_MS }))).toEqual(
        [],
      );
    });

    it("replaces what a key held and removes what it is told", async () => {
      const { activity } = stores();
      const d = deviceId(unique("dev"));
      const p = patientId(unique("pat"));
      const [first, second] = blocksOf(d, p, DAY, 30);
      const other = blocksOf(d, p, DAY, 30, 9)[0] as ActivityBlock;
      await run(activity.apply(d, [first as ActivityBlock, second as ActivityBlock], []));
      await run(activity.apply(d, [other], [{ patientId: p, start: DAY + BLOCK_MS }]));
      expect(
        await run(activity.deviceBlocks(d, { start: DAY, end: DAY + 4 * BLOCK_MS })),
      ).toStrictEqual([other]);
    });

    it("a device handed over mid-epoch: both patients' epochs are those of their own samples", async () => {
      const s = stores();
      const { check, command, ingest, device, nurse } = world(s);
      const [p1, p2] = [patientId(unique("pat-1")), patientId(unique("pat-2"))];
      await command({
        _tag: "AssignDevice",
        commandId: commandId(unique("c")),
        deviceId: device,
        actor: nurse,
        patientId: p1,
        at: epochMillis(DAY),
        now: epochMillis(DAY),
      });
      await ingest(DAY + 2 * MIN, 30);
      // Handed over at 20 min 30.05 s, recorded after the fact: the epoch of minute 20 is split.
      const handover = DAY + 20 * MIN + 30_050;
      await command({
        _tag: "ReassignDevice",
        commandId: commandId(unique("c")),
        deviceId: device,
        actor: nurse,
        patientId: p2,
        reason: "completed",
        at: epochMillis(handover),
        now: epochMillis(DAY + 40 * MIN),
      });
      const blocks = await check();
      const minute20 = (p: PatientId) =>
        blocks
          .filter((b) => b.patientId === p && b.start === DAY + 15 * MIN)
          .flatMap((b) => b.epochs)
          .find((e) => e.index === 5);
      expect(minute20(p1)?.samples).toBe(301);
      expect(minute20(p2)?.samples).toBe(299);
    });

    it("after random reassignments, backdated assignments and returns, every block is what its patient's samples give", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({
              gapMs: fc.integer({ min: 1, max: 12 * MIN }),
              kind: fc.constantFrom("reassign", "return", "assign"),
              patient: fc.integer({ min: 0, max: 2 }),
            }),
            { minLength: 1, maxLength: 4 },
          ),
          async (steps) => {
            const s = stores();
            const { check, command, ingest, device, nurse } = world(s);
            const patients = [0, 1, 2].map((i) => patientId(unique(`pat-${i}`)));
            await command({
              _tag: "AssignDevice",
              commandId: commandId(unique("c")),
              deviceId: device,
              actor: nurse,
              patientId: patients[0] as PatientId,
              at: epochMillis(DAY),
              now: epochMillis(DAY),
            });
            await ingest(DAY + MIN, 40);
            const now = epochMillis(DAY + 45 * MIN);
            let at = DAY;
            for (const step of steps) {
              at += step.gapMs;
              const base = {
                commandId: commandId(unique("c")),
                deviceId: device,
                actor: nurse,
                at: epochMillis(at),
                now,
              };
              const p = patients[step.patient] as PatientId;
              // Rejections (a return of a device nobody has, …) append nothing: the model holds either way.
              if (step.kind === "reassign")
                await command({
                  ...base,
                  _tag: "ReassignDevice",
                  patientId: p,
                  reason: "completed",
                });
              else if (step.kind === "return") await command({ ...base, _tag: "ReturnDevice" });
              else await command({ ...base, _tag: "AssignDevice", patientId: p });
              await check();
            }
          },
        ),
        { numRuns: options.numRuns ?? 10 },
      );
    }, 600_000);
  });

/**
 * One device over the stores: commands re-attribute as the re-attribution
 * handler does, samples are ingested through the sensor store that keeps
 * activity, and `check` compares every stored block of the device with the
 * blocks its samples give now.
 */
const world = (s: ActivityContractStores) => {
  const device = deviceId(unique("dev"));
  const nurse = actor("nurse@clinic.example");
  const sensors = keepingActivity(s.sensors, s.activity, OPTIONS);
  let clock = DAY;
  const layer = intervalCacheLayer(0).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Layer.succeed(EventStore, s.events),
        Layer.succeed(SensorStore, sensors),
        clockFrom(() => clock),
      ),
    ),
  );
  const go = <A, E>(
    e: Effect.Effect<A, E, EventStore | SensorStore | AssignmentIntervals | Clock>,
  ) => Effect.runPromise(Effect.provide(e, layer));
  const command = async (c: AssignmentCommand) => {
    clock = c.now;
    const outcome = await go(Effect.either(executeCommand(c)));
    if (outcome._tag === "Left") return;
    const stream = await go(s.events.load(device));
    const commit = stream.commits.at(-1);
    if (commit) await go(reattribute(commit, { retentionMs: RETENTION_MS }));
  };
  const ingest = async (start: number, minutes: number) => {
    const samples = record(
      { start, durationMs: minutes * MIN },
      walking({ cadence: 110, amplitude: 0.4, seed: 5 }).motion,
    );
    const current = await go(Effect.flatMap(AssignmentIntervals, (i) => i.current(device)));
    for (let i = 0; i < samples.length; i += 600) {
      const segments: Array<StoredSegment> = [
        ...attribute(device, samples.slice(i, i + 600), current, { retentionMs: RETENTION_MS }),
      ];
      await go(sensors.write(segments));
    }
  };
  const check = async () => {
    const range = { start: DAY - BLOCK_MS, end: DAY + 8 * BLOCK_MS };
    const stored = await go(s.activity.deviceBlocks(device, range));
    const segments = await go(s.sensors.deviceSegments(device, range));
    const starts: Array<number> = [];
    for (let b = blockStartOf(range.start); b < range.end; b += BLOCK_MS) starts.push(b);
    const expected = [...activityBlocksOf(device, segments, starts, OPTIONS)].sort(
      (a, b) => a.start - b.start || (a.patientId < b.patientId ? -1 : 1),
    );
    expect(stored).toStrictEqual(expected);
    return stored;
  };
  return { device, nurse, command, ingest, check };
};
