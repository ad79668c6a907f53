/**
 * `pnpm bench:cost`: what a device-month costs, from counts measured through
 * the real ingest on DynamoDB Local. For publish intervals of 1 s, 5 s and 10 s,
 * a device-day at 10 Hz (time compressed: the messages go as fast as the
 * ingest takes them) of an ADXL345 on a walking wrist, with a hand-over inside
 * a message, 1 % of messages delivered twice and 1 % late (after the
 * hand-over), re-attribution's two passes included; then a clinician reads one
 * hour of the patient's raw timeline. Counts: messages, invocations, write and
 * read units, stored bytes (table and index, by DynamoDB's item-size rules),
 * mis-attributed samples, the ingest's milliseconds a message. The per-message
 * figures go to packages/infra/cost/measured.json (what `pnpm cost` reads), and
 * the price table turns them into dollars. Prints a table, then one JSON line.
 *
 * `--hours H` measures H hours (2 to 24) of each day instead of 24 (a quicker
 * run; the per-message figures barely move).
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import {
  clockFrom,
  DEFAULT_CACHE_TTL_MS,
  indexEntry,
  itemSize,
  STORAGE_OVERHEAD_BYTES,
  storesLayer,
  TIMELINE_PROJECTION,
  withUsageMetrics,
} from "@medusa/adapters";
import { startLocalStores } from "@medusa/adapters/testing";
import {
  actor,
  type Commit,
  commandId,
  deviceId,
  encodeSampleBatch,
  epochMillis,
  executeCommand,
  patientId,
  reattribute,
} from "@medusa/domain";
import { walkingWrist } from "@medusa/domain/testing";
import { configFromEnv, ingestHandler, servicesLayer } from "@medusa/lambda";
import { Effect, type Layer } from "effect";
import { loadActivity, loadPrices } from "../src/cost/cli.js";
import {
  activityLines,
  defaultFleet,
  deviceMonthBill,
  type Measured,
  type MessageFigures,
  totalOf,
} from "../src/cost/model.js";

const { values } = parseArgs({ options: { hours: { type: "string" } }, strict: true });
const HOURS = Number(values.hours ?? 24);
// The hand-over falls half way: the first patient wears the device for the hour the clinician reads.
if (!(HOURS >= 2 && HOURS <= 24)) throw new RangeError(`--hours ${values.hours}: 2 to 24`);
const HZ = 10;
const INTERVALS_S = [1, 5, 10];
const DAY = 86_400_000;
// The day began a day and a half ago: inside the retention period, and the items' TTL in the future.
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 36 * 3_600_000;
const nurse = actor("nurse@clinic.example");

/** An ADXL345 on a walking wrist, in the chip's whole steps, with its noise. */
const wrist = { start: T0, hz: HZ, firstSequence: 1_000_000 };

// A deterministic choice of the 1 % delivered twice and the 1 % delivered late.
const randomFrom = (seed0: number) => {
  let seed = seed0;
  return () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
};

const { client, stores, stop } = await startLocalStores({ prefix: "cost-" });
const meter = withUsageMetrics(client);

interface Run {
  readonly intervalS: number;
  readonly messages: number;
  readonly invocations: number;
  readonly payloadBytes: number;
  readonly wru: number;
  readonly rru: number;
  readonly lambdaMs: number;
  readonly storedBytes: number;
  readonly tableBytes: number;
  readonly samples: number;
  readonly misattributed: number;
  readonly duplicates: number;
  readonly timelineRru: number;
  readonly timelineSamples: number;
  readonly wallS: number;
}

const measure = async (intervalS: number): Promise<Run> => {
  const device = deviceId(`cost-pi-${intervalS}s`);
  const [A, B] = [patientId(`P-cost-${intervalS}-a`), patientId(`P-cost-${intervalS}-b`)];
  const perMessage = HZ * intervalS;
  const messages = Math.round((HOURS * 3_600) / intervalS);
  // The hand-over falls inside a message, half way through the window.
  const handover =
    T0 + Math.round(messages / 2) * intervalS * 1000 + Math.round(intervalS * 500) + 50;
  let clock = T0 - 60_000;
  const layer = servicesLayer(storesLayer(stores), {
    cacheTtlMs: 0,
    clock: clockFrom(() => clock),
  });
  const run = <A, E>(e: Effect.Effect<A, E, Layer.Layer.Success<typeof layer>>) =>
    Effect.runPromise(Effect.provide(e, layer));
  await run(
    executeCommand({
      _tag: "AssignDevice",
      commandId: commandId(`cost-assign-${intervalS}`),
      deviceId: device,
      actor: nurse,
      patientId: A,
      at: epochMillis(clock),
      now: epochMillis(clock),
    }),
  );
  // One Lambda container for the day, its interval cache as in AWS.
  const ingest = ingestHandler(
    configFromEnv({}),
    servicesLayer(storesLayer(stores), {
      cacheTtlMs: DEFAULT_CACHE_TTL_MS,
      clock: clockFrom(() => clock),
    }),
  );
  const random = randomFrom(42 + intervalS);
  const batchOf = (m: number) => walkingWrist(wrist, m * perMessage, perMessage);
  const lastOf = (m: number) => T0 + Math.round(((m + 1) * perMessage - 1) * (1000 / HZ));
  const late = new Set<number>();
  while (late.size < Math.max(1, messages / 100))
    late.add(Math.floor(random() * (messages / 2 - 10)));
  const twice = new Set<number>();
  while (twice.size < Math.max(1, messages / 100)) twice.add(Math.floor(random() * messages));
  const schedule: Array<{ m: number; at: number }> = [];
  for (let m = 0; m < messages; m++) if (!late.has(m)) schedule.push({ m, at: lastOf(m) + 150 });
  for (const m of late) schedule.push({ m, at: handover + 5_000 + m });
  for (const m of twice) schedule.push({ m, at: lastOf(m) + 900 });
  schedule.sort((a, b) => a.at - b.at);

  meter.reset();
  let commit: Commit | undefined;
  let secondPassAt = Number.POSITIVE_INFINITY;
  let lambdaMs = 0;
  let payloadBytes = 0;
  const started = performance.now();
  for (const delivery of schedule) {
    clock = delivery.at;
    if (!commit && clock >= handover + 2_000) {
      // Recorded 2 s after the hand-over; the ingest's cache still holds the old intervals.
      commit = (
        await run(
          executeCommand({
            _tag: "ReassignDevice",
            commandId: commandId(`cost-reassign-${intervalS}`),
            deviceId: device,
            actor: nurse,
            patientId: B,
            reason: "completed",
            at: epochMillis(handover),
            now: epochMillis(clock),
          }),
        )
      ).commit;
      await run(reattribute(commit));
      secondPassAt = clock + DEFAULT_CACHE_TTL_MS + 15_000;
    }
    if (commit && clock >= secondPassAt) {
      secondPassAt = Number.POSITIVE_INFINITY;
      await run(reattribute(commit, { onlyOlderThan: commit.version }));
    }
    const payload = encodeSampleBatch(batchOf(delivery.m));
    payloadBytes += payload.length;
    const t = performance.now();
    await ingest({
      ...JSON.parse(payload),
      topic: `medusa/${device}/sensor/data`,
      client_id: device,
      received_at: delivery.at,
    });
    lambdaMs += performance.now() - t;
  }
  const wallS = (performance.now() - started) / 1000;
  const usage = meter.snapshot();

  // Every sample stored once, each with the patient who wore the device when it was taken.
  const items = await Effect.runPromise(
    stores.sensors.deviceSegments(device, { start: T0 - 1, end: T0 + DAY + 1 }),
  );
  const seen = new Set<number>();
  let duplicates = 0;
  let misattributed = 0;
  let samples = 0;
  for (const item of items)
    for (const s of item.samples) {
      samples++;
      if (seen.has(s.sequence)) duplicates++;
      seen.add(s.sequence);
      if (item.patientId !== (s.timestamp < handover ? A : B)) misattributed++;
    }
  if (samples !== messages * perMessage)
    throw new Error(`${intervalS} s: ${samples} samples stored of ${messages * perMessage}`);

  // Stored bytes as DynamoDB bills them: every item and its index entry, 100 bytes each more.
  let storedBytes = 0;
  let tableBytes = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(
      new QueryCommand({
        TableName: "cost-medusa-sensor-data",
        KeyConditionExpression: "device_id = :d",
        ExpressionAttributeValues: { ":d": { S: device } },
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    for (const item of page.Items ?? []) {
      tableBytes += itemSize(item) + STORAGE_OVERHEAD_BYTES;
      storedBytes += itemSize(item) + STORAGE_OVERHEAD_BYTES;
      if (item.patient_id)
        storedBytes +=
          itemSize(
            indexEntry(item, ["device_id", "timestamp", "patient_id"], TIMELINE_PROJECTION),
          ) + STORAGE_OVERHEAD_BYTES;
    }
    start = page.LastEvaluatedKey;
  } while (start);

  // A clinician reads an hour of the first patient's raw timeline (pages of 10,000): the day's first.
  const hour = T0;
  meter.reset();
  let cursor: string | undefined;
  let timelineSamples = 0;
  do {
    const page = await Effect.runPromise(
      stores.sensors.patientTimeline(
        A,
        { start: hour, end: hour + 3_600_000 },
        { limit: 10_000, ...(cursor ? { cursor } : {}) },
      ),
    );
    timelineSamples += page.samples.length;
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  const timelineRru = meter.snapshot().readUnits;

  return {
    intervalS,
    messages,
    invocations: schedule.length,
    payloadBytes: payloadBytes / schedule.length,
    wru: usage.writeUnits,
    rru: usage.readUnits,
    lambdaMs: lambdaMs / schedule.length,
    storedBytes,
    tableBytes,
    samples,
    misattributed,
    duplicates,
    timelineRru,
    timelineSamples,
    wallS,
  };
};

try {
  const runs: Array<Run> = [];
  for (const intervalS of INTERVALS_S) runs.push(await measure(intervalS));
  const prices = loadPrices();
  const figures = runs.map(
    (r): MessageFigures => ({
      rateHz: HZ,
      intervalS: r.intervalS,
      samplesPerMessage: HZ * r.intervalS,
      payloadBytes: Math.round(r.payloadBytes),
      wruPerMessage: r.wru / r.messages,
      rruPerMessage: r.rru / r.messages,
      lambdaMsPerMessage: r.lambdaMs,
      storedBytesPerSample: r.storedBytes / r.samples,
      tableBytesPerSample: r.tableBytes / r.samples,
      timelineRruPerHour: r.timelineRru,
    }),
  );
  const [first, ...rest] = figures;
  if (!first) throw new Error("no interval measured");
  const measured: Measured = {
    measured: new Date().toISOString().slice(0, 10),
    by: `pnpm bench:cost (${HOURS} h of each day, DynamoDB Local, Node ${process.version})`,
    entries: [first, ...rest],
  };
  writeFileSync(
    new URL("../cost/measured.json", import.meta.url),
    `${JSON.stringify(measured, null, 2)}\n`,
  );
  const usd = figures.map((f) =>
    totalOf(deviceMonthBill({ ...defaultFleet, intervalS: f.intervalS }, f, prices)),
  );
  // The status row's saves and the activity function (cost/activity.json, `pnpm bench:activity-aws`).
  const activity = loadActivity();
  const extra = figures.map((f) =>
    activityLines({ ...defaultFleet, intervalS: f.intervalS }, activity, prices),
  );
  const statusUsd = extra.map((lines) =>
    totalOf(lines.filter((l) => l.item.includes("status row"))),
  );
  const activityUsd = extra.map((lines) =>
    totalOf(lines.filter((l) => !l.item.includes("status row"))),
  );
  const rows = [
    ["publish interval", ...runs.map((r) => `${r.intervalS} s`), "target (10 s)"],
    [
      "messages (+ duplicates, late)",
      ...runs.map((r) => `${r.messages} (+${r.invocations - r.messages})`),
      "",
    ],
    ["samples per message", ...runs.map((r) => String(HZ * r.intervalS)), ""],
    ["payload bytes per message", ...figures.map((f) => String(f.payloadBytes)), ""],
    ["write units per message", ...figures.map((f) => f.wruPerMessage.toFixed(3)), "≤ 2.05"],
    ["read units per message", ...figures.map((f) => f.rruPerMessage.toFixed(3)), ""],
    [
      "stored bytes per sample (table + index)",
      ...figures.map((f) => f.storedBytesPerSample.toFixed(2)),
      "≤ 12",
    ],
    [
      "ingest ms per message (in process)",
      ...figures.map((f) => f.lambdaMsPerMessage.toFixed(2)),
      "",
    ],
    [
      "an hour of raw timeline: read units",
      ...runs.map((r) => `${r.timelineRru} (${r.timelineSamples} samples)`),
      "≤ 40",
    ],
    [
      "mis-attributed / duplicate samples",
      ...runs.map((r) => `${r.misattributed} / ${r.duplicates}`),
      "0",
    ],
    ["$ per device-month (Basic Ingest)", ...usd.map((u) => `$${u.toFixed(3)}`), "≤ $0.75"],
    ["+ status row's sample-time saves", ...statusUsd.map((u) => `$${u.toFixed(3)}`), ""],
    [
      `+ activity function (measured ${activity.measured})`,
      ...activityUsd.map((u) => `$${u.toFixed(3)}`),
      "",
    ],
    [
      "$ per device-month, all of it",
      ...usd.map((u, i) => `$${(u + (statusUsd[i] ?? 0) + (activityUsd[i] ?? 0)).toFixed(3)}`),
      "",
    ],
    ["wall time", ...runs.map((r) => `${r.wallS.toFixed(0)} s`), ""],
  ];
  console.log(
    `cost benchmark — 10 Hz ADXL345 on a walking wrist, ${HOURS} h of a day per interval, DynamoDB Local, prices ${prices.region}\n`,
  );
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
  const at = (s: number) => figures.find((f) => f.intervalS === s)!;
  console.log(
    JSON.stringify({
      usd_per_device_month_1s: Number(usd[0]!.toFixed(4)),
      usd_per_device_month_5s: Number(usd[1]!.toFixed(4)),
      usd_per_device_month_10s: Number(usd[2]!.toFixed(4)),
      wru_per_message_100: Number(at(10).wruPerMessage.toFixed(4)),
      bytes_per_sample: Number(at(10).storedBytesPerSample.toFixed(3)),
      rru_hour_timeline: at(10).timelineRruPerHour,
      misattributed: runs.reduce((n, r) => n + r.misattributed, 0),
      usd_status_saves_per_device_month_10s: Number(statusUsd[2]!.toFixed(4)),
      usd_activity_per_device_month_10s: Number(activityUsd[2]!.toFixed(4)),
      usd_per_device_month_10s_all: Number((usd[2]! + statusUsd[2]! + activityUsd[2]!).toFixed(4)),
    }),
  );
} finally {
  await stop();
}
