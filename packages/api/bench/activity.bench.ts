/**
 * `pnpm bench:activity`: activity metrics on DynamoDB Local. A 7-day study of
 * one patient at 10 Hz (a device swap on day 4): the domain computes its
 * blocks from the samples (metrics_per_s, one core), the real activity store
 * holds them, and the API reads the week of 60 s epochs and the daily
 * summaries (p99, read units). Then two hours go through the real sensor
 * store with the activity pass, a reassignment and a backdated reassignment
 * re-attribute them, and every stored block is compared with what the samples
 * attributed now give (epochs_wrong), with the write units the metrics cost.
 * Prints a table, then one JSON line.
 */
import {
  clockFrom,
  intervalCacheLayer,
  makeDynamoStores,
  withUsageMetrics,
} from "@medusa/adapters";
import { startLocalStores } from "@medusa/adapters/testing";
import {
  type ActivityBlock,
  ActivityStore,
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
  DEFAULT_EPOCH_MS,
  deviceId,
  EventStore,
  epochMillis,
  executeCommand,
  keepingActivity,
  MetricsScratch,
  metricsOf,
  patientId,
  reattribute,
  refreshActivity,
  type SampleChange,
  SensorStore,
} from "@medusa/domain";
import { record, walking } from "@medusa/domain/testing";
import { Effect, Layer } from "effect";
import { createApp } from "../src/app.js";
import { portsOf } from "../src/testing/app-suite.js";
import { signToken, testAuth } from "../src/testing/index.js";

const DAY = 86_400_000;
const MIN = 60_000;
const RETENTION = 30 * DAY;
// A week ending yesterday (UTC): the TTLs lie in the future, so DynamoDB Local keeps the items.
const T0 = Math.floor(Date.now() / DAY) * DAY - 8 * DAY;
const patient = patientId("P-activity-bench");
const [A, B] = [deviceId("bench-act-a"), deviceId("bench-act-b")];
const options = { epochMs: DEFAULT_EPOCH_MS, retentionMs: RETENTION };
const p99 = (xs: Array<number>) =>
  [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.99) - 1] ?? 0;

const local = await startLocalStores({ prefix: "bench-activity-" });
try {
  const meter = withUsageMetrics(local.client);
  const stores = makeDynamoStores({ client: local.client, tables: local.tables });

  // 1. A week at 10 Hz: walking 8 hours a day, still otherwise; device A until day 4 noon, then B.
  let samples = 0;
  let metricsMs = 0;
  const scratch = new MetricsScratch();
  const swap = T0 + 3.5 * DAY;
  const blocks: Array<ActivityBlock> = [];
  for (let d = 0; d < 7; d++) {
    const day = record(
      { start: T0 + d * DAY, durationMs: DAY, oversample: 1 },
      (
        (gait) => (s: number) =>
          s % 7200 < 2400 ? gait(s) : [0, 0, 0]
      )(walking({ cadence: 95 + d * 5, amplitude: 0.35, seed: d + 1 }).motion),
    );
    for (const [device, part] of [
      [A, day.filter((s) => s.timestamp < swap)],
      [B, day.filter((s) => s.timestamp >= swap)],
    ] as const) {
      if (part.length === 0) continue;
      const columns = columnsOf(part);
      const t = performance.now();
      const computed = metricsOf(columns, DEFAULT_EPOCH_MS, scratch);
      metricsMs += performance.now() - t;
      samples += part.length;
      for (const b of computed)
        blocks.push({
          ...b,
          deviceId: device,
          patientId: patient,
          ttl: Math.ceil((b.start + BLOCK_MS + RETENTION) / 1000),
        });
    }
  }
  const metricsPerS = Math.round(samples / (metricsMs / 1000));
  for (const device of [A, B])
    await Effect.runPromise(
      stores.activity.apply(
        device,
        blocks.filter((b) => b.deviceId === device),
        [],
      ),
    );

  // 2. The API's reads.
  const app = createApp({ layer: portsOf(stores), authenticate: testAuth(), log: () => {} });
  const token = await signToken({ email: "viewer@clinic.example", roles: ["viewer"] });
  const get = (path: string) =>
    app.request(path, { headers: { authorization: `Bearer ${token}` } });
  const weekMs: Array<number> = [];
  const weekRru: Array<number> = [];
  let epochs = 0;
  for (let i = 0; i < 40; i++) {
    meter.reset();
    const t = performance.now();
    const res = await get(
      `/api/patients/${patient}/activity?start_time=${T0}&end_time=${T0 + 7 * DAY}`,
    );
    const body = (await res.json()) as { count: number; next_cursor: string | null };
    weekMs.push(performance.now() - t);
    weekRru.push(meter.snapshot().readUnits);
    epochs = body.count;
    if (body.next_cursor !== null) throw new Error("a week of 60 s epochs did not fit one page");
  }
  const start = new Date(T0).toISOString().slice(0, 10);
  const end = new Date(T0 + 6 * DAY).toISOString().slice(0, 10);
  const dailyMs: Array<number> = [];
  let dailyRru = 0;
  for (let i = 0; i < 40; i++) {
    meter.reset();
    const t = performance.now();
    const res = await get(
      `/api/patients/${patient}/activity/daily?start_date=${start}&end_date=${end}&tz=Europe/Berlin`,
    );
    await res.json();
    dailyMs.push(performance.now() - t);
    dailyRru = meter.snapshot().readUnits;
  }

  // 3. Two hours through the real sensor store and the activity pass, then re-attribution.
  const C = deviceId("bench-act-c");
  const [P1, P2] = [patientId("P-act-bench-1"), patientId("P-act-bench-2")];
  const pending: Array<SampleChange> = [];
  const sensors = keepingActivity(stores.sensors, stores.activity, {
    ...options,
    deferWrites: (c) => pending.push(...c),
  });
  let clock = T0;
  const layer = intervalCacheLayer(0).pipe(
    Layer.provideMerge(
      Layer.mergeAll(
        Layer.succeed(EventStore, stores.events),
        Layer.succeed(SensorStore, sensors),
        Layer.succeed(ActivityStore, stores.activity),
        clockFrom(() => clock),
      ),
    ),
  );
  const go = <X, E>(
    e: Effect.Effect<X, E, EventStore | SensorStore | ActivityStore | AssignmentIntervals | Clock>,
  ) => Effect.runPromise(Effect.provide(e, layer));
  const nurse = actor("nurse@clinic.example");
  const command = async (c: AssignmentCommand) => {
    clock = c.now;
    await go(executeCommand(c));
    const commit = (await go(stores.events.load(C))).commits.at(-1);
    if (commit) await go(reattribute(commit, { retentionMs: RETENTION }));
  };
  await command({
    _tag: "AssignDevice",
    commandId: commandId("b1"),
    deviceId: C,
    actor: nurse,
    patientId: P1,
    at: epochMillis(T0),
    now: epochMillis(T0),
  });
  const recorded = record(
    { start: T0 + MIN, durationMs: 120 * MIN },
    walking({ cadence: 110, amplitude: 0.4, seed: 9 }).motion,
  );
  const current = await go(Effect.flatMap(AssignmentIntervals, (i) => i.current(C)));
  // One message a second: ten samples an item, as the agent publishes at 10 Hz.
  for (let i = 0; i < recorded.length; i += 10)
    await go(
      sensors.write(attribute(C, recorded.slice(i, i + 10), current, { retentionMs: RETENTION })),
    );
  meter.reset();
  await go(refreshActivity(pending.splice(0), options));
  const passWrites = meter.snapshot().writeUnits;
  const extraWcuPer1000 = (passWrites / recorded.length) * 1000;
  // Recorded an hour after the fact (backdated): the device handed to P2 at 50 min 30.5 s (mid-epoch),
  // and back to P1 at 90 min 7.3 s.
  const now = epochMillis(T0 + 3 * 60 * MIN);
  await command({
    _tag: "ReassignDevice",
    commandId: commandId("b2"),
    deviceId: C,
    actor: nurse,
    patientId: P2,
    reason: "completed",
    at: epochMillis(T0 + 50 * MIN + 30_500),
    now,
  });
  await command({
    _tag: "ReassignDevice",
    commandId: commandId("b3"),
    deviceId: C,
    actor: nurse,
    patientId: P1,
    reason: "completed",
    at: epochMillis(T0 + 90 * MIN + 7_300),
    now,
  });
  const range = { start: T0 - BLOCK_MS, end: T0 + 4 * 60 * MIN };
  const stored = await Effect.runPromise(stores.activity.deviceBlocks(C, range));
  const segments = await Effect.runPromise(stores.sensors.deviceSegments(C, range));
  const starts: Array<number> = [];
  for (let b = blockStartOf(range.start); b < range.end; b += BLOCK_MS) starts.push(b);
  const truth = activityBlocksOf(C, segments, starts, options);
  const key = (b: ActivityBlock) => `${b.start}/${b.patientId}`;
  const byKey = new Map(stored.map((b) => [key(b), b]));
  let epochsWrong = 0;
  for (const b of truth) {
    const s = byKey.get(key(b));
    byKey.delete(key(b));
    if (!s) epochsWrong += b.epochs.length;
    else
      for (const e of b.epochs) {
        const f = s.epochs.find((x) => x.index === e.index);
        if (!f || JSON.stringify(f) !== JSON.stringify(e)) epochsWrong++;
      }
  }
  for (const b of byKey.values()) epochsWrong += b.epochs.length;

  const figures = {
    samples_in_week: samples,
    epochs_in_week: epochs,
    metrics_per_s: metricsPerS,
    week_overview_p99_ms: Math.round(p99(weekMs) * 10) / 10,
    week_overview_rru: Math.max(...weekRru),
    daily_p99_ms: Math.round(p99(dailyMs) * 10) / 10,
    daily_rru: dailyRru,
    epochs_wrong: epochsWrong,
    extra_wcu_per_1000_samples: Math.round(extraWcuPer1000 * 100) / 100,
  };
  const targets: Record<string, string> = {
    metrics_per_s: ">= 5,000,000",
    week_overview_p99_ms: "< 150",
    week_overview_rru: "<= 60",
    daily_p99_ms: "< 100",
    epochs_wrong: "0",
    extra_wcu_per_1000_samples: "<= 5",
  };
  console.log("figure                      value        target");
  for (const [k, v] of Object.entries(figures))
    console.log(`${k.padEnd(28)}${String(v).padEnd(13)}${targets[k] ?? ""}`);
  console.log(JSON.stringify(figures));
} finally {
  await local.stop();
}
