// pnpm bench:fleet — the fleet's management on the local stack: N simulated
// agents (default 200; the real device agent with its shadow sync, mqtt.js over
// mutual TLS, in a second process) on the whole stack (broker with its shadow
// service and lifecycle events, ingest, API, presence and the gap detector in
// this process; DynamoDB Local). Measures, through the API only:
//   shadow_update_p99_ms  PATCH /api/devices/{id}/configuration sent → the new
//                         value in GET …/configuration's `reported`
//   presence_lag_p99_ms   a lifecycle event's timestamp (connect or disconnect)
//                         → the change visible in GET /api/devices
//   gap_alert_lag_ms      the gap's deadline (the silent device's newest stored
//                         sample + the gap setting) → its alert in GET /api/alerts
//   gap_alert_after_stop_ms  the device stopped → its alert visible
//   lost_samples          samples the broker accepted and the ingest did not store
// Prints a table and, last, one JSON line with those figures. The table also takes
// the shadow figure apart (PATCH answered; the delta, the device's report and its
// acceptance as the broker published them; the report seen through the API) and
// shows how late this process's event loop ran in each phase (the stack, and the
// benchmark's own polling, share it).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { ensureDevCerts } from "@medusa/adapters/broker";
import { shadowTopic } from "@medusa/adapters/shadow";
import { deviceId, parseSensorPayload, samplesOf } from "@medusa/domain";
import { Effect, Either } from "effect";
import { deviceConfig, simulatedDeviceIds, startStack } from "../src/index.js";

const DEVICES = Number(process.env.BENCH_FLEET_DEVICES ?? 200);
const RATE_HZ = Number(process.env.BENCH_FLEET_RATE_HZ ?? 10);
const INTERVAL_MS = Number(process.env.BENCH_FLEET_INTERVAL_MS ?? 1_000);
const GAP_MS = Number(process.env.BENCH_FLEET_GAP_S ?? 60) * 1_000;
const GAP_CHECK_MS = Number(process.env.BENCH_FLEET_GAP_CHECK_S ?? 5) * 1_000;
/** Devices taken offline and back for the presence figures (besides the first connects). */
const CHURN = Math.min(DEVICES - 1, Number(process.env.BENCH_FLEET_CHURN ?? 40));
/** Configuration changes in flight at once (a ward's clinicians, not one script at full speed). */
const SHADOW_CONCURRENCY = Number(process.env.BENCH_FLEET_SHADOW_CONCURRENCY ?? 10);
const NEW_INTERVAL_MS = 2 * INTERVAL_MS;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** By device, when each of its lifecycle events was recorded (in the order they came). */
const recordedAt = new Map<string, Array<number>>();
const dir = mkdtempSync(join(tmpdir(), "medusa-bench-fleet-"));
const log = (line: string) => console.error(`[${((Date.now() - t0) / 1000).toFixed(1)} s] ${line}`);
const t0 = Date.now();

const stack = await startStack({
  dir,
  devices: 0,
  apiPort: 0,
  mqttPort: 0,
  dynamoPort: 0,
  consoleDir: false,
  gapMs: GAP_MS,
  gapCheckMs: GAP_CHECK_MS,
  // When each lifecycle event was recorded in the device statuses (the lag's first part).
  onPresence: (outcome) => {
    if (outcome._tag !== "Recorded") return;
    const times = recordedAt.get(outcome.deviceId) ?? [];
    times.push(Date.now());
    recordedAt.set(outcome.deviceId, times);
  },
});
log(`stack up (gap ${GAP_MS / 1000} s, checked every ${GAP_CHECK_MS / 1000} s)`);

/**
 * One API call as the stack's clinician. A request that meets a keep-alive connection
 * the server is closing (ECONNRESET) is sent again: writes carry an Idempotency-Key,
 * so a retry is never applied twice.
 */
const call = async (method: string, path: string, body?: unknown) => {
  const key = `${method} ${path} ${JSON.stringify(body)}`;
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(`${stack.apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${stack.token}`,
          ...(body === undefined
            ? {}
            : { "content-type": "application/json", "idempotency-key": key }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = (await response.json()) as Record<string, unknown>;
      if (response.status >= 300)
        throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
      return json;
    } catch (e) {
      if (!(e instanceof TypeError) || attempt >= 3) throw e;
      networkRetries++;
    }
  }
};
let networkRetries = 0;
const pct = (values: ReadonlyArray<number>, p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};
const forEachLimit = async <A>(
  items: ReadonlyArray<A>,
  limit: number,
  f: (a: A) => Promise<void>,
) => {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await f(items[next++] as A);
    }),
  );
};

/** How late this process's event loop (the stack's and the benchmark's client's) ran, by phase. */
const loopDelays: Array<[string, IntervalHistogram]> = [];
const LOOP_RESOLUTION_MS = 10;
/** A recorded delay (ns, the timer's own 10 ms included) as how late the loop ran, in ms. */
const late = (ns: number) => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS).toFixed(0);
const watchLoop = (phase: string) => {
  loopDelays.at(-1)?.[1].disable();
  const h = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  h.enable();
  loopDelays.push([phase, h]);
};
const ids = simulatedDeviceIds(DEVICES);
const agents = new Set(ids);
// What the broker accepted, by device and sequence (the lost-samples count's reference).
const published = new Map<string, Set<number>>();
// Every lifecycle event the broker published, as AWS stamps it (its `timestamp`).
type Lifecycle = {
  id: string;
  type: "connected" | "disconnected";
  at: number;
  publishedAt: number;
  seenAt?: number;
};
const lifecycle: Array<Lifecycle> = [];
/** By device, when each leg of its configuration change happened (the shadow figure's parts). */
type ShadowLegs = {
  sent: number;
  answered?: number;
  delta?: number;
  report?: number;
  accepted?: number;
  seen?: number;
};
const shadowLegs = new Map<string, ShadowLegs>();
/** The shadow topics timed, by topic: whose change, and the leg its publish ends. */
const shadowLegTopics = new Map<
  string,
  { readonly legs: ShadowLegs; readonly leg: "delta" | "report" | "accepted" }
>();
const timeShadowLegs = (id: string, legs: ShadowLegs) => {
  shadowLegs.set(id, legs);
  shadowLegTopics.set(shadowTopic({ thing: id }, "update/delta"), { legs, leg: "delta" });
  shadowLegTopics.set(shadowTopic({ thing: id }, "update"), { legs, leg: "report" });
  shadowLegTopics.set(shadowTopic({ thing: id }, "update/accepted"), { legs, leg: "accepted" });
};
/** The `publish.interval_ms` a shadow document reports, if it has one. */
const reportedInterval = (payload: Buffer) => {
  try {
    const doc = JSON.parse(payload.toString()) as {
      state?: { reported?: { publish?: { interval_ms?: unknown } } };
    };
    return doc.state?.reported?.publish?.interval_ms;
  } catch {
    return undefined;
  }
};
stack.broker.aedes.on("publish", (packet, client) => {
  const timed = shadowLegTopics.get(packet.topic);
  if (timed !== undefined) {
    const { legs, leg } = timed;
    // The device publishes its report; the shadow service (no client) the delta and the acceptance.
    if (legs[leg] !== undefined || (leg === "report") !== (client !== null)) return;
    if (leg === "delta" || reportedInterval(packet.payload as Buffer) === NEW_INTERVAL_MS)
      legs[leg] = Date.now();
    return;
  }
  if (client === null && packet.topic.startsWith("$aws/events/presence/")) {
    const e = JSON.parse(packet.payload.toString()) as {
      clientId: string;
      eventType: Lifecycle["type"];
      timestamp: number;
    };
    if (agents.has(e.clientId))
      lifecycle.push({
        id: e.clientId,
        type: e.eventType,
        at: e.timestamp,
        publishedAt: Date.now(),
      });
    return;
  }
  if (client === null || !packet.topic.endsWith("/sensor/data")) return;
  const decoded = parseSensorPayload(packet.payload.toString());
  if (Either.isLeft(decoded)) return;
  const seen = published.get(client.id) ?? new Set<number>();
  published.set(client.id, seen);
  for (const s of samplesOf(decoded.right, 0)) seen.add(s.sequence);
});

// Presence as the API shows it: the fleet list polled, one request after the other; an
// event is visible once the list's last connect (or disconnect) is that event or newer.
let polling = true;
let polls = 0;
const pollDurations: Array<number> = [];
const presencePoller = (async () => {
  while (polling) {
    const started = Date.now();
    const page = (await call("GET", `/api/devices?limit=500`)) as {
      devices: Array<{
        device_id: string;
        last_connected_at: number | null;
        last_disconnected_at: number | null;
      }>;
    };
    const at = Date.now();
    pollDurations.push(at - started);
    polls++;
    const byId = new Map(page.devices.map((d) => [d.device_id, d]));
    for (const e of lifecycle) {
      if (e.seenAt !== undefined) continue;
      const d = byId.get(e.id);
      const shown = e.type === "connected" ? d?.last_connected_at : d?.last_disconnected_at;
      if (shown != null && shown >= e.at) e.seenAt = at;
    }
    await sleep(50);
  }
})();
/** Waits until `events` lifecycle events have been published and each is visible in the API. */
const presenceSettled = async (what: string, events: number, ms = 120_000) => {
  const deadline = Date.now() + ms;
  while (lifecycle.length < events || lifecycle.some((e) => e.seenAt === undefined)) {
    if (Date.now() > deadline) {
      const unseen = lifecycle.filter((e) => e.seenAt === undefined);
      log(
        `presence: ${what}: ${lifecycle.length} of ${events} events published, ${unseen.length} not visible after ${ms} ms (e.g. ${JSON.stringify(unseen.slice(0, 3))}); last list took ${pollDurations.at(-1)} ms`,
      );
      return;
    }
    await sleep(100);
  }
};

// The agents.
const certs = await ensureDevCerts(join(dir, "certs"), ids);
const files = ids.map((id) => {
  deviceConfig({
    dir,
    id,
    port: stack.mqttPort,
    certs,
    topicPrefix: stack.topicPrefix,
    sampleRateHz: RATE_HZ,
    publishIntervalMs: INTERVAL_MS,
  });
  return join(dir, "devices", `${id}.toml`);
});
const fleetMain = fileURLToPath(new URL("./fleet.ts", import.meta.url));
const root = fileURLToPath(new URL("../../..", import.meta.url));
watchLoop("boot storm");
const fleet: ChildProcess = spawn(
  process.execPath,
  ["--import", "tsx", "--conditions=@medusa/source", fleetMain, ...files],
  { cwd: root, stdio: ["ignore", "pipe", "inherit", "ipc"] },
);
// A benchmark that fails half way must not leave its agents (or DynamoDB Local) running.
const abandon = (e: unknown) => {
  console.error(e);
  fleet.kill("SIGKILL");
  void stack.stop().finally(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(1);
  });
};
process.once("uncaughtException", abandon);
process.once("unhandledRejection", abandon);
const replies = new Map<string, () => void>();
fleet.on("message", (m: Record<string, string>) => {
  const key = m.stopped !== undefined ? `stopped ${m.stopped}` : `started ${m.started}`;
  replies.get(key)?.();
  replies.delete(key);
});
const control = (verb: "stop" | "start", id: string) =>
  new Promise<void>((done) => {
    replies.set(`${verb === "stop" ? "stopped" : "started"} ${id}`, done);
    fleet.send({ [verb]: id });
  });
await new Promise<void>((resolve) => fleet.stdout?.once("data", () => resolve()));
log(
  `${DEVICES} agents started; ${lifecycle.length} lifecycle events so far, ${polls} polls of /api/devices (last ${pollDurations.at(-1)} ms)`,
);
await presenceSettled("the first connects", DEVICES);
watchLoop("assignments");
const firstConnects = lifecycle.filter((e) => e.type === "connected").length;
log(`${firstConnects} connects visible in /api/devices`);

// Every device worn by a patient (the gap detector watches assigned devices).
await forEachLimit(ids, 8, async (id) => {
  await call("POST", "/api/devices/assign", {
    device_id: id,
    patient_id: `P-${id.slice(-4)}`,
  });
});
log(`${DEVICES} devices assigned`);
// Every device's first report is in its shadow before it is changed.
await forEachLimit(ids, 8, async (id) => {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const c = await call("GET", `/api/devices/${id}/configuration`).catch(() => null);
    if (c?.reported) return;
    if (Date.now() > deadline) throw new Error(`${id}: no reported state`);
    await sleep(200);
  }
});

// The gap: the first device stops for good; its alert is awaited while the rest runs.
const [gapDevice, ...others] = ids as [string, ...Array<string>];
const gapStoppedAt = Date.now();
await control("stop", gapDevice);
log(`${gapDevice} stopped (its alert is due ${GAP_MS / 1000} s after its last sample)`);
const gapAlert = (async () => {
  const deadline = Date.now() + GAP_MS + 120_000;
  while (Date.now() < deadline) {
    const page = (await call("GET", "/api/alerts?limit=500")) as {
      alerts: Array<{ device_id: string; since: number; raised_at: number }>;
    };
    const at = Date.now();
    const alert = page.alerts.find((a) => a.device_id === gapDevice);
    if (alert) return { ...alert, seenAt: at };
    await sleep(250);
  }
  throw new Error(`no data-gap alert for ${gapDevice}`);
})();

// Desired configuration through the API → reported back by the device, seen through the API.
const shadowLags: Array<number> = [];
watchLoop("configuration changes");
await forEachLimit(others, SHADOW_CONCURRENCY, async (id) => {
  const sent = Date.now();
  const legs: ShadowLegs = { sent };
  timeShadowLegs(id, legs);
  await call("PATCH", `/api/devices/${id}/configuration`, {
    publish: { interval_ms: NEW_INTERVAL_MS },
  });
  legs.answered = Date.now();
  const deadline = sent + 30_000;
  for (;;) {
    const c = (await call("GET", `/api/devices/${id}/configuration`)) as {
      reported: { publish?: { interval_ms?: number } } | null;
    };
    if (c.reported?.publish?.interval_ms === NEW_INTERVAL_MS) {
      legs.seen = Date.now();
      shadowLags.push(legs.seen - sent);
      return;
    }
    if (Date.now() > deadline) throw new Error(`${id}: the new interval not reported in 30 s`);
    await sleep(25);
  }
});
log(`${shadowLags.length} configuration changes reported back`);
watchLoop("churn");

// Presence under churn: devices go offline and come back, a few at a time.
const churned = others.slice(0, CHURN);
await forEachLimit(churned, 5, async (id) => {
  await control("stop", id);
  await sleep(500);
  await control("start", id);
});
// The first connects, the gap device's disconnect, and each churned device's disconnect and connect.
await presenceSettled("the churn", DEVICES + 1 + 2 * CHURN);
log(`${CHURN} devices went offline and came back`);
watchLoop("waiting for the gap");

const gap = await gapAlert;
const lastSampleOfGapDevice = await Effect.runPromise(
  stack.stores.sensors.lastSampleAt(deviceId(gapDevice)),
);
log(`${gapDevice}'s alert visible`);
polling = false;
loopDelays.at(-1)?.[1].disable();
await presencePoller;
const presenceNotVisible = lifecycle.filter((e) => e.seenAt === undefined).length;
const presenceEvents = lifecycle.length;

// Stop the agents (their outboxes drain), let the ingest finish, count.
const exited = new Promise((r) => fleet.once("exit", r));
fleet.kill("SIGTERM");
await exited;
const drainStart = Date.now();
while (stack.ingest.stats().queued > 0 && Date.now() - drainStart < 60_000) await sleep(100);
let samplesPublished = 0;
let samplesStored = 0;
for (const [device, sequences] of published) {
  const items = await Effect.runPromise(
    stack.stores.sensors.deviceSegments(device as never, {
      start: 0,
      end: Number.MAX_SAFE_INTEGER,
    }),
  );
  const stored = new Set<number>();
  for (const item of items) for (const s of item.samples) stored.add(s.sequence);
  samplesPublished += sequences.size;
  for (const n of sequences) if (stored.has(n)) samplesStored++;
}
const stats = stack.ingest.stats();
await stack.stop();
rmSync(dir, { recursive: true, force: true });

// Each device's events were recorded in the order the broker published them.
const recordLags: Array<number> = [];
const byDevice = new Map<string, Array<Lifecycle>>();
for (const e of lifecycle) byDevice.set(e.id, [...(byDevice.get(e.id) ?? []), e]);
for (const [id, events] of byDevice)
  events.forEach((e, i) => {
    const at = recordedAt.get(id)?.[i];
    if (at !== undefined && e.seenAt !== undefined) recordLags.push(at - e.at);
  });
const presenceLags = lifecycle.flatMap((e) => (e.seenAt === undefined ? [] : [e.seenAt - e.at]));
const connectLags = lifecycle.flatMap((e) =>
  e.type === "connected" && e.seenAt !== undefined ? [e.seenAt - e.at] : [],
);
const disconnectLags = lifecycle.flatMap((e) =>
  e.type === "disconnected" && e.seenAt !== undefined ? [e.seenAt - e.at] : [],
);
/** One leg of the configuration changes, p50 / p99 / max over the changes that have it. */
const leg = (from: keyof ShadowLegs, to: keyof ShadowLegs) => {
  const lags = [...shadowLegs.values()].flatMap((l) => {
    const a = l[from];
    const b = l[to];
    return a === undefined || b === undefined ? [] : [b - a];
  });
  return `${pct(lags, 50)} / ${pct(lags, 99)} / ${pct(lags, 100)} ms`;
};
const deadline = (lastSampleOfGapDevice ?? gap.since) + GAP_MS;
const figures = {
  devices: DEVICES,
  shadow_update_p50_ms: pct(shadowLags, 50),
  shadow_update_p99_ms: pct(shadowLags, 99),
  presence_lag_p50_ms: pct(presenceLags, 50),
  presence_lag_p99_ms: pct(presenceLags, 99),
  presence_not_visible: presenceNotVisible,
  gap_alert_lag_ms: gap.seenAt - deadline,
  gap_alert_after_stop_ms: gap.seenAt - gapStoppedAt,
  samples_published: samplesPublished,
  lost_samples: samplesPublished - samplesStored,
};
const rows: Array<[string, string, string]> = [
  ["machine", `${cpus().length} cores, Node ${process.version}`, ""],
  [
    "agents × rate × interval",
    `${DEVICES} × ${RATE_HZ} Hz × ${INTERVAL_MS} ms (then ${NEW_INTERVAL_MS} ms, set through the shadow)`,
    "",
  ],
  [
    "shadow: PATCH → reported via API",
    `p50 ${figures.shadow_update_p50_ms} ms, p99 ${figures.shadow_update_p99_ms} ms, max ${pct(shadowLags, 100)} ms (${shadowLags.length} changes, ${SHADOW_CONCURRENCY} at once)`,
    "p99 < 1,000 ms",
  ],
  ["  PATCH sent → answered, p50 / p99 / max", leg("sent", "answered"), ""],
  ["  PATCH sent → delta published", leg("sent", "delta"), ""],
  ["  delta → the device's report", leg("delta", "report"), ""],
  ["  report → accepted published", leg("report", "accepted"), ""],
  ["  report → seen in GET …/configuration", leg("report", "seen"), ""],
  [
    "presence: event → /api/devices",
    `p50 ${figures.presence_lag_p50_ms} ms, p99 ${figures.presence_lag_p99_ms} ms (${presenceLags.length} of ${presenceEvents} events seen)`,
    "p99 < 2,000 ms",
  ],
  [
    "  connects / disconnects, p99",
    `${pct(connectLags, 99)} ms (${connectLags.length}) / ${pct(disconnectLags, 99)} ms (${disconnectLags.length})`,
    "",
  ],
  [
    "  event → recorded in the statuses, p50 / p99",
    `${pct(recordLags, 50)} ms / ${pct(recordLags, 99)} ms`,
    "",
  ],
  [
    "  the list route's own time",
    `p50 ${pct(pollDurations, 50)} ms, p99 ${pct(pollDurations, 99)} ms (${polls} polls)`,
    "",
  ],
  [
    "gap alert: deadline → /api/alerts",
    `${figures.gap_alert_lag_ms} ms (gap ${GAP_MS / 1000} s, checked every ${GAP_CHECK_MS / 1000} s)`,
    "",
  ],
  ["gap alert: device stopped → visible", `${figures.gap_alert_after_stop_ms} ms`, "< 70,000 ms"],
  [
    "samples published / stored / lost",
    `${samplesPublished} / ${samplesStored} / ${figures.lost_samples}`,
    "lost = 0",
  ],
  ...loopDelays.map(([phase, h]): [string, string, string] => [
    `event loop delay: ${phase}`,
    `p50 ${late(h.percentile(50))} ms, p99 ${late(h.percentile(99))} ms, max ${late(h.max)} ms`,
    "",
  ]),
  ["API requests sent again (connection reset)", String(networkRetries), ""],
  [
    "messages stored / rejected / failed",
    `${stats.stored} / ${stats.rejected} / ${stats.failed}`,
    "",
  ],
];
const width = Math.max(...rows.map((r) => r[0].length));
const width2 = Math.max(...rows.map((r) => r[1].length));
for (const [k, v, t] of rows) console.log(`${k.padEnd(width)}  ${v.padEnd(width2)}  ${t}`);
console.log(JSON.stringify(figures));
process.exit(0);
