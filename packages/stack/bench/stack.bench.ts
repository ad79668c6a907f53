// pnpm bench:stack — the local stack under a fleet: N simulated devices at
// 10 Hz for a minute (defaults: 100 devices, 60 s), on this machine. Prints a
// table and, last, one JSON line with devices, samples_published,
// samples_stored, lag_p50_ms, lag_p99_ms.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ensureDevCerts } from "@medusa/adapters/broker";
import { parseSensorPayload, samplesOf } from "@medusa/domain";
import { Effect, Either } from "effect";
import { deviceConfig, simulatedDeviceIds, startStack } from "../src/index.js";

const DEVICES = Number(process.env.BENCH_STACK_DEVICES ?? 100);
const SECONDS = Number(process.env.BENCH_STACK_SECONDS ?? 60);
const RATE_HZ = 10;

const dir = mkdtempSync(join(tmpdir(), "medusa-bench-stack-"));
const lags: Array<number> = [];
// The worst lag in each 10 s window, to show whether a tail is start-up, steady state or the end.
const windows = new Map<number, number>();
const benchStart = Date.now();
const published = new Map<string, Set<number>>();
let samplesPublished = 0;

const proc = (pid: number) => {
  // utime + stime in clock ticks (100 Hz on Linux), resident set in pages of 4 KiB.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  return { cpuS: (Number(stat[11]) + Number(stat[12])) / 100, rssMb: rss };
};
const javaPid = (port: string) => {
  const out = spawn("pgrep", ["-f", `DynamoDBLocal.jar.*-port ${port}`]);
  return new Promise<number>((resolve) => {
    let text = "";
    out.stdout.on("data", (d) => {
      text += String(d);
    });
    out.on("exit", () => resolve(Number(text.trim().split("\n")[0])));
  });
};

const stack = await startStack({
  dir,
  devices: 0,
  apiPort: 0,
  mqttPort: 0,
  dynamoPort: 0,
  onStored: ({ storedAt, payload }) => {
    const decoded = parseSensorPayload(payload);
    if (Either.isRight(decoded))
      for (const s of samplesOf(decoded.right, storedAt)) {
        const lag = storedAt - s.timestamp;
        lags.push(lag);
        const w = Math.floor((storedAt - benchStart) / 10_000);
        windows.set(w, Math.max(windows.get(w) ?? 0, lag));
      }
  },
});
stack.broker.aedes.on("publish", (packet, client) => {
  if (client === null || !packet.topic.endsWith("/sensor/data")) return;
  const decoded = parseSensorPayload(packet.payload.toString());
  if (Either.isLeft(decoded)) return;
  const seen = published.get(client.id) ?? new Set<number>();
  published.set(client.id, seen);
  for (const s of samplesOf(decoded.right, 0)) {
    if (!seen.has(s.sequence)) samplesPublished++;
    seen.add(s.sequence);
  }
});

const ids = simulatedDeviceIds(DEVICES);
const certs = await ensureDevCerts(join(dir, "certs"), ids);
const files = ids.map((id) => {
  deviceConfig({
    dir,
    id,
    port: stack.mqttPort,
    certs,
    topicPrefix: stack.topicPrefix,
    sampleRateHz: RATE_HZ,
    publishIntervalMs: 1_000,
  });
  return join(dir, "devices", `${id}.toml`);
});

const fleetMain = fileURLToPath(new URL("./fleet.ts", import.meta.url));
const root = fileURLToPath(new URL("../../..", import.meta.url));
const fleet = spawn(
  process.execPath,
  ["--import", "tsx", "--conditions=@medusa/source", fleetMain, ...files],
  { cwd: root, stdio: ["ignore", "pipe", "inherit"] },
);
await new Promise<void>((resolve) => fleet.stdout?.once("data", () => resolve()));
const java = await javaPid(stack.dynamoEndpoint.split(":").at(-1) ?? "");
const t0 = Date.now();
const cpu0 = { stack: process.cpuUsage(), fleet: proc(fleet.pid ?? 0), java: proc(java) };
console.error(`${DEVICES} devices at ${RATE_HZ} Hz for ${SECONDS} s …`);
await new Promise((r) => setTimeout(r, SECONDS * 1000));
const cpu1 = { stack: process.cpuUsage(), fleet: proc(fleet.pid ?? 0), java: proc(java) };
const rss = {
  stack: process.memoryUsage().rss / 1024 ** 2,
  fleet: cpu1.fleet.rssMb,
  java: cpu1.java.rssMb,
};
const elapsed = (Date.now() - t0) / 1000;

// Stop the devices (their outboxes drain), then let the ingest finish.
const exited = new Promise((r) => fleet.once("exit", r));
fleet.kill("SIGTERM");
await exited;
const drainStart = Date.now();
while (stack.ingest.stats().queued > 0 && Date.now() - drainStart < 60_000)
  await new Promise((r) => setTimeout(r, 100));

let samplesStored = 0;
let duplicates = 0;
for (const [device, sequences] of published) {
  const items = await Effect.runPromise(
    stack.stores.sensors.deviceSegments(device as never, {
      start: 0,
      end: Number.MAX_SAFE_INTEGER,
    }),
  );
  const stored = new Set<number>();
  for (const item of items)
    for (const s of item.samples) {
      if (stored.has(s.sequence)) duplicates++;
      stored.add(s.sequence);
    }
  for (const n of sequences) if (stored.has(n)) samplesStored++;
}
const stats = stack.ingest.stats();
await stack.stop();
rmSync(dir, { recursive: true, force: true });

lags.sort((a, b) => a - b);
const pct = (p: number) =>
  lags[Math.min(lags.length - 1, Math.floor((p / 100) * lags.length))] ?? 0;
const cpuPerS = (a: number, b: number) => ((b - a) / elapsed).toFixed(2);
const stackCpu = (cpu1.stack.user + cpu1.stack.system - cpu0.stack.user - cpu0.stack.system) / 1e6;
const rows: Array<[string, string, string]> = [
  ["machine", `${cpus().length} cores, Node ${process.version}`, ""],
  [
    "devices × rate × time",
    `${DEVICES} × ${RATE_HZ} Hz × ${SECONDS} s (1 batch per device per second)`,
    "",
  ],
  ["samples published (unique)", String(samplesPublished), ""],
  ["samples stored (of those)", String(samplesStored), "= published"],
  ["duplicates stored", String(duplicates), "0"],
  [
    "messages stored / rejected / failed",
    `${stats.stored} / ${stats.rejected} / ${stats.failed}`,
    "",
  ],
  ["lag sample time → stored, p50", `${pct(50)} ms`, "(includes up to 1 s of batching)"],
  ["lag p99 / max", `${pct(99)} ms / ${lags.at(-1) ?? 0} ms`, "p99 < 2,000 ms"],
  [
    "lag max per 10 s window",
    [...windows.entries()]
      .sort((x, y) => x[0] - y[0])
      .map(([, max]) => max)
      .join(" "),
    "",
  ],
  ["CPU: broker + ingest + API (one process)", `${(stackCpu / elapsed).toFixed(2)} core`, ""],
  ["CPU: DynamoDB Local (Java)", `${cpuPerS(cpu0.java.cpuS, cpu1.java.cpuS)} core`, ""],
  ["CPU: the device fleet (one process)", `${cpuPerS(cpu0.fleet.cpuS, cpu1.fleet.cpuS)} core`, ""],
  [
    "resident memory: stack / Java / fleet",
    `${rss.stack.toFixed(0)} / ${rss.java.toFixed(0)} / ${rss.fleet.toFixed(0)} MB`,
    "",
  ],
];
const width = Math.max(...rows.map((r) => r[0].length));
const width2 = Math.max(...rows.map((r) => r[1].length));
for (const [k, v, t] of rows) console.log(`${k.padEnd(width)}  ${v.padEnd(width2)}  ${t}`);
console.log(
  JSON.stringify({
    devices: DEVICES,
    samples_published: samplesPublished,
    samples_stored: samplesStored,
    lag_p50_ms: pct(50),
    lag_p99_ms: pct(99),
  }),
);
process.exit(0);
