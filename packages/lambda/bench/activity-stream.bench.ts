/**
 * `pnpm bench:activity-aws`: what computing activity in AWS costs a device.
 * Two hours of one device at 10 Hz, a message every 10 s (the default
 * interval), through the ingest function into DynamoDB Local; the sensor
 * table's stream read as Lambda reads it, and the activity function invoked
 * with each minute of records (the event source mapping's 60 s batching
 * window; one device on the shard, the worst case). Its own DynamoDB client
 * is metered (consumed capacity, tables and indexes), and its time per
 * invocation measured. Prints a table, then one JSON line; the figures an
 * invocation go to packages/infra/cost/activity.json, which `pnpm cost` and
 * `pnpm bench:cost` price (the activity function's lines of a device-month).
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import {
  clockFrom,
  localCredentials,
  makeDynamoClient,
  makeDynamoStores,
  storesLayer,
  withUsageMetrics,
} from "@medusa/adapters";
import { dynamoStreamReader, startLocalStores } from "@medusa/adapters/testing";
import {
  actor,
  commandId,
  deviceId,
  encodeSampleBatch,
  epochMillis,
  executeCommand,
  patientId,
  type Sample,
} from "@medusa/domain";
import { Effect } from "effect";
import { configFromEnv } from "../src/config.js";
import { activityOptionsOf, activityStreamHandler } from "../src/handlers/activity.js";
import { ingestHandler } from "../src/handlers/ingest.js";
import { servicesLayer } from "../src/services.js";

const HOURS = Number(process.env.BENCH_HOURS ?? 2);
const INTERVAL_S = 10;
const HZ = 10;
const WINDOW_S = 60;
// Recent hours: the items' TTL must lie in the future (DynamoDB Local's TTL job).
const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - (HOURS + 1) * 3_600_000;
const device = deviceId("bench-activity-01");

const { local, stores, tables, stop } = await startLocalStores({
  prefix: "bench-activity-",
});
try {
  let clock = T0;
  const config = configFromEnv({});
  const layer = servicesLayer(storesLayer(stores), {
    cacheTtlMs: 30_000,
    clock: clockFrom(() => clock),
  });
  await Effect.runPromise(
    Effect.provide(
      executeCommand({
        _tag: "AssignDevice",
        commandId: commandId("bench-assign"),
        deviceId: device,
        actor: actor("nurse@clinic.example"),
        patientId: patientId("P-bench-activity"),
        at: epochMillis(T0 - 60_000),
        now: epochMillis(T0 - 60_000),
      }),
      layer,
    ),
  );
  const ingest = ingestHandler(config, layer);
  const activityClient = makeDynamoClient({
    endpoint: local.endpoint,
    region: "local",
    credentials: localCredentials,
  });
  const meter = withUsageMetrics(activityClient);
  const activity = activityStreamHandler(
    activityOptionsOf(config),
    servicesLayer(storesLayer(makeDynamoStores({ client: activityClient, tables })), {
      cacheTtlMs: 30_000,
    }),
  );
  const stream = await dynamoStreamReader(local.endpoint, tables.sensor);

  const perMessage = HZ * INTERVAL_S;
  const messages = (HOURS * 3_600) / INTERVAL_S;
  const durations: Array<number> = [];
  let records = 0;
  let written = 0;
  let i = 0;
  for (let m = 0; m < messages; m++) {
    const batch: Array<Sample> = [];
    for (let k = 0; k < perMessage; k++, i++) {
      const t = T0 + i * (1000 / HZ);
      const z = 1 + 0.3 * Math.sin(2 * Math.PI * 1.8 * (t / 1000));
      batch.push({
        timestamp: epochMillis(t),
        sequence: i % 65_536,
        x: 0.05,
        y: -0.02,
        z,
        magnitude: Math.hypot(0.05, 0.02, z),
      });
    }
    clock = (batch.at(-1)?.timestamp ?? T0) + 300;
    const out = await ingest({
      ...JSON.parse(encodeSampleBatch(batch)),
      topic: `medusa/${device}/sensor/data`,
      client_id: device,
      received_at: clock,
    });
    if (out.statusCode !== 200) throw new Error(`ingest: ${out.body}`);
    if ((m + 1) % (WINDOW_S / INTERVAL_S) === 0) {
      const window = await stream.next();
      records += window.length;
      const start = performance.now();
      const outcome = await activity({ Records: window });
      durations.push(performance.now() - start);
      if (outcome.batchItemFailures.length > 0) throw new Error("activity batch failed");
      written += outcome.refreshed.written;
    }
  }
  const usage = meter.snapshot();
  const invocations = durations.length;
  const samples = messages * perMessage;
  const sorted = [...durations].sort((a, b) => a - b);
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const mean = durations.reduce((a, b) => a + b, 0) / Math.max(1, invocations);
  const perInvocation = (n: number) => n / Math.max(1, invocations);
  const rows: Array<[string, string]> = [
    ["samples (10 Hz, a message every 10 s)", samples.toLocaleString("en")],
    ["stream records", String(records)],
    ["activity invocations (one a minute)", String(invocations)],
    ["blocks written", String(written)],
    ["write units an invocation", perInvocation(usage.writeUnits).toFixed(2)],
    ["read units an invocation", perInvocation(usage.readUnits).toFixed(2)],
    ["write units per 1,000 samples", ((usage.writeUnits / samples) * 1000).toFixed(2)],
    [
      "ms an invocation (mean / p50 / p99, in process)",
      `${mean.toFixed(1)} / ${p(0.5).toFixed(1)} / ${p(0.99).toFixed(1)}`,
    ],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
  console.log(
    JSON.stringify({
      samples,
      invocations,
      wru_per_invocation: Number(perInvocation(usage.writeUnits).toFixed(3)),
      rru_per_invocation: Number(perInvocation(usage.readUnits).toFixed(3)),
      wru_per_1000_samples: Number(((usage.writeUnits / samples) * 1000).toFixed(3)),
      ms_per_invocation_mean: Number(mean.toFixed(2)),
      ms_per_invocation_p99: Number(p(0.99).toFixed(2)),
    }),
  );
  writeFileSync(
    new URL("../../infra/cost/activity.json", import.meta.url),
    `${JSON.stringify(
      {
        measured: new Date().toISOString().slice(0, 10),
        by: `pnpm bench:activity-aws (${HOURS} h of one device, DynamoDB Local, Node ${process.version}, load average ${loadavg()[0]?.toFixed(1)})`,
        rateHz: HZ,
        intervalS: INTERVAL_S,
        windowS: WINDOW_S,
        wruPerInvocation: perInvocation(usage.writeUnits),
        rruPerInvocation: perInvocation(usage.readUnits),
        msPerInvocation: mean,
      },
      null,
      2,
    )}\n`,
  );
  activityClient.destroy();
} finally {
  await stop();
}
