/**
 * `pnpm bench:api`: the Node server on 127.0.0.1 over DynamoDB Local, loaded
 * with autocannon. A device lookup, and a 10,000-sample timeline page for a
 * patient with one day of 10 Hz data over two devices. Prints a table, then
 * one JSON line.
 */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { storesLayer, systemClock } from "@medusa/adapters";
import { startLocalStores } from "@medusa/adapters/testing";
import {
  actor,
  commandId,
  deviceId,
  EventStore,
  enrich,
  epochMillis,
  executeCommand,
  patientId,
  type Sample,
  type StoredSegment,
  segmentKey,
} from "@medusa/domain";
import autocannon from "autocannon";
import { Effect, Layer } from "effect";
import { createApp } from "../src/app.js";
import { jwtAuth } from "../src/auth.js";
import { signToken, TEST_SECRET } from "../src/testing/index.js";

const DAY = 86_400_000;
// Yesterday (UTC): the items' TTL (30 days after the samples) must lie in the future, or
// DynamoDB Local's TTL job may delete them during the run.
const T0 = Math.floor(Date.now() / DAY) * DAY - DAY;
const patient = patientId("P-bench");
const [A, B] = [deviceId("bench-pi-a"), deviceId("bench-pi-b")];
const nurse = actor("nurse@clinic.example");

const { stores, stop } = await startLocalStores({ prefix: "bench-" });
try {
  const run = <A2, E>(e: Effect.Effect<A2, E, EventStore>) =>
    Effect.runPromise(Effect.provideService(e, EventStore, stores.events));

  // The patient wears A for the first half of the day and B for the second.
  await run(
    executeCommand({
      _tag: "AssignDevice",
      commandId: commandId("a"),
      deviceId: A,
      actor: nurse,
      patientId: patient,
      at: epochMillis(T0),
      now: epochMillis(T0),
    }),
  );
  await run(
    executeCommand({
      _tag: "ReturnDevice",
      commandId: commandId("ra"),
      deviceId: A,
      actor: nurse,
      at: epochMillis(T0 + DAY / 2),
      now: epochMillis(T0 + DAY / 2),
    }),
  );
  await run(
    executeCommand({
      _tag: "AssignDevice",
      commandId: commandId("b"),
      deviceId: B,
      actor: nurse,
      patientId: patient,
      at: epochMillis(T0 + DAY / 2),
      now: epochMillis(T0 + DAY / 2),
    }),
  );

  const loadStarted = performance.now();
  let stored = 0;
  for (const [device, from] of [
    [A, T0],
    [B, T0 + DAY / 2],
  ] as const) {
    const intervals = await Effect.runPromise(stores.readModel.deviceIntervals(device));
    const segments: Array<StoredSegment> = [];
    for (let b = 0; b < DAY / 2 / 1_000; b++) {
      const samples: Array<Sample> = Array.from({ length: 10 }, (_, i) => ({
        timestamp: epochMillis(from + b * 1_000 + i * 100),
        sequence: b * 10 + i,
        x: 0.012,
        y: -0.034,
        z: 0.981,
        magnitude: 0.9817,
      }));
      for (const s of enrich(device, samples, intervals))
        segments.push({
          ...s,
          key: segmentKey(s.samples),
          attributedVersion: 1,
        });
    }
    // A fixture, loaded in bulk (BatchWriteItem, as re-attribution writes), not message by
    // message through the ingest's conditional writes.
    for (let i = 0; i < segments.length; i += 2_500) {
      await Effect.runPromise(stores.sensors.replace(device, [], segments.slice(i, i + 2_500)));
      stored += segments.slice(i, i + 2_500).reduce((n, s) => n + s.samples.length, 0);
    }
  }
  const loadS = (performance.now() - loadStarted) / 1000;

  const app = createApp({
    layer: Layer.merge(storesLayer(stores), systemClock),
    authenticate: jwtAuth({ secret: TEST_SECRET }),
    log: () => {},
  });
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((r) => server.once("listening", r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const token = await signToken({ email: "nurse@clinic.example", roles: ["viewer"] });
  const headers = { authorization: `Bearer ${token}` };

  const load = (title: string, path: string, connections: number, duration: number) =>
    new Promise<autocannon.Result>((resolve, reject) =>
      autocannon(
        { url: `${base}${path}`, headers, connections, duration, title },
        (error, result) => (error ? reject(error) : resolve(result)),
      ),
    );
  // A page: 10,000 samples starting at some hour of the day.
  const page = (hour: number) =>
    `/api/patients/${patient}/sensor-data?start_time=${T0 + hour * 3_600_000}&end_time=${T0 + DAY}&limit=10000`;
  const check = (await (await fetch(`${base}${page(11)}`, { headers })).json()) as {
    count: number;
    data: Array<{ device_id: string }>;
  };
  if (check.count !== 10_000) throw new Error(`a timeline page held ${check.count} samples`);

  // Lookups first, then pages; a short warm-up before each (the JIT in Node and in DynamoDB
  // Local's JVM), not counted. Pages first would leave their garbage in the lookups' tail.
  await load("warm-up", `/api/devices/${A}/patient`, 4, 2);
  const lookup = await load("lookup", `/api/devices/${A}/patient`, 4, 10);
  await load("warm-up", page(11), 1, 3);
  const timeline = await load("timeline", page(11), 1, 15);
  server.close();
  // Where a page's time goes: the store's Query of DynamoDB Local and unpacking, then the API
  // around it. Measured last: the garbage 10,000-sample pages leave would otherwise land in the
  // lookups' tail.
  const storeStarted = performance.now();
  for (let k = 0; k < 5; k++)
    await Effect.runPromise(
      stores.sensors.patientTimeline(
        patient,
        { start: T0 + 11 * 3_600_000, end: T0 + DAY },
        { limit: 10_000 },
      ),
    );
  const storeMs = (performance.now() - storeStarted) / 5;

  const figures = {
    lookup_p99_ms: lookup.latency.p99,
    timeline_p99_ms: timeline.latency.p99,
    lookup_rps: Math.round(lookup.requests.average),
    timeline_rps: Math.round(timeline.requests.average * 10) / 10,
  };
  const rows = [
    ["store only (Query + unpack)", `${storeMs.toFixed(0)} ms per 10,000-sample page`, ""],
    [
      "data",
      `${stored.toLocaleString("en")} samples (one day at 10 Hz over two devices), loaded in ${loadS.toFixed(0)} s`,
      "",
    ],
    [
      "GET /api/devices/{id}/patient",
      `${figures.lookup_rps} req/s, p50 ${lookup.latency.p50} ms, p99 ${lookup.latency.p99} ms (4 connections, ${lookup.errors + lookup.non2xx} errors)`,
      "p99 < 20 ms",
    ],
    [
      "timeline page (10,000 samples)",
      `${figures.timeline_rps} req/s, p50 ${timeline.latency.p50} ms, p99 ${timeline.latency.p99} ms (1 connection, ${timeline.errors + timeline.non2xx} errors)`,
      "p99 < 250 ms",
    ],
  ];
  console.log(
    `API benchmark — Node ${process.version}, Node server on 127.0.0.1, DynamoDB Local, after a warm-up\n`,
  );
  const w = [0, 1].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(`${r[0]!.padEnd(w[0]!)}  ${r[1]!.padEnd(w[1]!)}  ${r[2]}`);
  console.log(JSON.stringify(figures));
} finally {
  await stop();
}
