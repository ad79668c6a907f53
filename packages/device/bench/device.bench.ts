/**
 * `pnpm bench:device`: the agent's footprint and timing.
 *
 * 1. The real bundled agent (`node medusa-device.mjs --config …`, built here
 *    with the bundle script) runs as its own process against a local TLS
 *    broker with the synthetic sensor and the default configuration: one at
 *    10 Hz for resident memory (VmRSS and its peak VmHWM after the run), one at
 *    100 Hz for CPU time (utime + stime over the run's second half), side by
 *    side on this machine, each with its own device id and certificate.
 * 2. Outbox appends per second of a realistic batch (1 s at 10 Hz) for each
 *    durability mode, in process, awaited one at a time and with many in flight.
 * 3. Sampling jitter at 100 Hz: the ADXL345 driver on the register-level
 *    simulator (FIFO in stream mode) drained by a real timer at the agent's
 *    drain period, against the jitter of that timer itself.
 *
 * BENCH_DEVICE_SECONDS shortens the agent run (default 120, the issue's two
 * minutes) for a quick try. Linux only (/proc). Prints a table, then one JSON
 * line.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ensureDevCerts, startLocalBroker } from "@medusa/adapters/broker";
import { type Durability, openOutbox } from "@medusa/adapters/outbox";
import {
  Adxl345Sensor,
  Adxl345Simulator,
  type MotionReading,
  SyntheticSensor,
} from "@medusa/adapters/sensor";
import { encodeSampleBatch, parseSensorPayload, samplesOf } from "@medusa/domain";
import { Either } from "effect";
import { bundle } from "../scripts/bundle.mjs";
import { Batcher } from "../src/batcher.js";
import { drainIntervalMs } from "../src/sampler.js";

const SECONDS = Number(process.env.BENCH_DEVICE_SECONDS ?? 120);
if (!(SECONDS >= 10)) throw new Error("BENCH_DEVICE_SECONDS must be at least 10");
/** CPU is measured over the run's second half, at most a minute: start-up and JIT warm-up stay out. */
const CPU_WINDOW_S = Math.min(60, SECONDS / 2);
const JITTER_S = Math.min(30, Math.max(5, SECONDS / 4));
const LOADED_JITTER_S = Math.min(10, JITTER_S);
const OUTBOX_S = 1.5;
const OUTBOX_ROUNDS = 3;

const work = mkdtempSync(join(tmpdir(), "medusa-device-bench-"));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? Number.NaN;
const spread = (values: ReadonlyArray<number>) => {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
    max: sorted.at(-1) ?? Number.NaN,
    n: sorted.length,
  };
};

// --- /proc ------------------------------------------------------------------

const CLK_TCK = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();
/** VmRSS and VmHWM in MiB. */
const memoryOf = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
};
/** utime + stime in seconds (fields 14 and 15 of /proc/<pid>/stat, after the command name). */
const cpuOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
};

// --- 1. the agent as a process ------------------------------------------------

interface Running {
  readonly id: string;
  readonly rateHz: number;
  readonly child: ChildProcess;
  readonly output: Array<string>;
  readonly exited: Promise<number | null>;
}

const runAgents = async () => {
  const ids = { 10: "bench-10hz", 100: "bench-100hz" } as const;
  const certs = await ensureDevCerts(join(work, "certs"), Object.values(ids));
  const broker = await startLocalBroker({ port: 0, tls: { ca: certs.ca, ...certs.server } });
  const { outfile, bytes } = await bundle({
    outfile: join(work, "medusa-device.mjs"),
    quiet: true,
  });

  // Every sequence number the broker accepted, per device.
  const seen = new Map<string, Array<number>>();
  broker.aedes.on("publish", (packet, client) => {
    if (!client || !packet.topic.endsWith("/sensor/data")) return;
    const decoded = parseSensorPayload(packet.payload.toString());
    if (Either.isRight(decoded)) {
      const list = seen.get(client.id) ?? [];
      for (const s of samplesOf(decoded.right, 0)) list.push(s.sequence);
      seen.set(client.id, list);
    }
  });

  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("AWS_IOT_") && k !== "MEDUSA_CONFIG"),
  );
  const start = (rateHz: 10 | 100): Running => {
    const id = ids[rateHz];
    const client = certs.paths.clients[id] as { cert: string; key: string };
    const path = join(work, `${id}.toml`);
    // The old publisher's keys plus what a local run needs; everything else at its default.
    writeFileSync(
      path,
      `[mqtt]
broker_host = "127.0.0.1"
broker_port = ${broker.port}
client_id = "${id}"
ca_cert = "${certs.paths.ca}"
client_cert = "${client.cert}"
client_key = "${client.key}"

[sensor]
kind = "synthetic"
sample_rate_hz = ${rateHz}

[outbox]
path = "${join(work, `outbox-${id}`)}"
`,
    );
    const child = spawn(process.execPath, [outfile, "--config", path], {
      stdio: ["ignore", "pipe", "pipe"],
      env,
    });
    const output: Array<string> = [];
    child.stdout?.on("data", (d) => output.push(String(d)));
    child.stderr?.on("data", (d) => output.push(String(d)));
    const exited = new Promise<number | null>((resolve) =>
      child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))),
    );
    return { id, rateHz, child, output, exited };
  };
  const waitFor = async (agent: Running, text: string) => {
    const deadline = Date.now() + 30_000;
    while (!agent.output.join("").includes(text)) {
      if (Date.now() > deadline || agent.child.exitCode !== null)
        throw new Error(`${agent.id}: no "${text}"\n${agent.output.join("")}`);
      await sleep(20);
    }
  };

  const agents = [start(10), start(100)];
  try {
    for (const a of agents) await waitFor(a, '"msg":"connected"');
    const pid = (a: Running) => a.child.pid as number;
    const began = performance.now();
    const rss: Record<string, Array<number>> = { [agents[0]!.id]: [], [agents[1]!.id]: [] };
    let cpuStart: Array<number> | undefined;
    let cpuStartedAt = 0;
    for (let s = 1; s <= SECONDS; s++) {
      await sleep(began + s * 1000 - performance.now());
      for (const a of agents) rss[a.id]!.push(memoryOf(pid(a)).rss);
      if (!cpuStart && s >= SECONDS - CPU_WINDOW_S) {
        cpuStart = agents.map((a) => cpuOf(pid(a)));
        cpuStartedAt = performance.now();
      }
    }
    const windowS = (performance.now() - cpuStartedAt) / 1000;
    const cpu = agents.map((a, i) => ((cpuOf(pid(a)) - (cpuStart?.[i] ?? 0)) / windowS) * 60);
    const memory = agents.map((a) => memoryOf(pid(a)));
    const runS = (performance.now() - began) / 1000;

    const stopStarted = performance.now();
    for (const a of agents) a.child.kill("SIGTERM");
    const codes = await Promise.all(agents.map((a) => a.exited));
    const stopS = (performance.now() - stopStarted) / 1000;
    await sleep(200);

    const delivery = agents.map((a) => {
      const sequences = seen.get(a.id) ?? [];
      const distinct = new Set(sequences);
      const max = Math.max(-1, ...distinct);
      return {
        samples: distinct.size,
        duplicates: sequences.length - distinct.size,
        complete: distinct.size === max + 1,
        perSecond: distinct.size / runS,
      };
    });
    return { agents, bytes, rss, cpu, memory, codes, stopS, delivery, windowS };
  } finally {
    for (const a of agents) if (a.child.exitCode === null) a.child.kill("SIGKILL");
    await broker.close();
  }
};

// --- 2. the outbox ---------------------------------------------------------------

/** One publish interval at 10 Hz, as the agent appends it: 10 synthetic samples in the native batch. */
const realisticBatch = async () => {
  let now = Date.UTC(2026, 10, 23, 8, 0, 0);
  const sensor = new SyntheticSensor(1, () => now);
  await sensor.start(10);
  now += 1_000;
  const batcher = new Batcher(1_234_567);
  batcher.add(await sensor.drain());
  return encodeSampleBatch(batcher.take()[0] ?? []);
};

const measureOutbox = async (durability: Durability, payload: string) => {
  const topic = "medusa/bench-pi/sensor/data";
  const rate = async (inFlight: number, round: number) => {
    const dir = join(work, `outbox-${durability}-${inFlight}-${round}`);
    // The configured default bound (50 MiB): these runs stay below it, so nothing is dropped.
    const box = await openOutbox({ dir, maxBytes: 50 * 1024 * 1024, durability });
    let n = 0;
    const started = performance.now();
    while (performance.now() - started < OUTBOX_S * 1000 && box.stats().bytes < 40 * 1024 ** 2) {
      if (inFlight === 1) await box.append(payload, topic);
      else await Promise.all(Array.from({ length: inFlight }, () => box.append(payload, topic)));
      n += inFlight;
    }
    const perS = n / ((performance.now() - started) / 1000);
    if (box.stats().drops > 0) throw new Error("the outbox dropped entries during the benchmark");
    await box.close();
    rmSync(dir, { recursive: true, force: true });
    return perS;
  };
  // Disk timings vary from run to run: the best of a few rounds, as the other benchmarks do.
  const best = async (inFlight: number) => {
    let max = 0;
    for (let round = 0; round < OUTBOX_ROUNDS; round++)
      max = Math.max(max, await rate(inFlight, round));
    return max;
  };
  return { sequential: await best(1), inFlight: await best(1_000) };
};

// --- 3. sampling jitter ------------------------------------------------------------

/**
 * The ADXL345 driver on the simulator, both on the real clock, drained by a
 * real timer at the agent's period for 100 Hz. With `blockMs`, the event loop
 * is also kept busy that long every 250 ms (a stand-in for a GC pause or a
 * slow synchronous task), which delays the drain timer.
 */
const measureJitter = async (seconds: number, blockMs = 0) => {
  const rateHz = 100;
  const period = 1000 / rateHz;
  const every = drainIntervalMs(rateHz);
  const sim = new Adxl345Simulator();
  const sensor = new Adxl345Sensor(sim);
  await sensor.start(rateHz);
  const readings: Array<MotionReading> = [];
  const fired: Array<number> = [];
  const drain = setInterval(() => {
    fired.push(performance.now());
    void sensor.drain().then((r) => readings.push(...r));
  }, every);
  const busy = blockMs
    ? setInterval(() => {
        const until = performance.now() + blockMs;
        while (performance.now() < until) {}
      }, 250)
    : undefined;
  await sleep(seconds * 1000);
  clearInterval(drain);
  clearInterval(busy);
  await sleep(every);
  await sensor.close();
  const gaps = readings
    .slice(1)
    .map((r, i) => Math.abs(r.timestamp - (readings[i] as MotionReading).timestamp - period));
  const timer = fired.slice(1).map((t, i) => Math.abs(t - (fired[i] as number) - every));
  return {
    every,
    samples: spread(gaps),
    timer: spread(timer),
    readings: readings.length,
    expected: Math.round(seconds * rateHz),
    lost: sensor.health().lost,
    overflowed: sim.overflowed,
  };
};

// --- run, report ------------------------------------------------------------------

const fsType = (() => {
  try {
    return execFileSync("stat", ["-f", "-c", "%T", work], { encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
})();

try {
  mkdirSync(work, { recursive: true });
  console.error(
    `running two agents for ${SECONDS} s, then the jitter (${fmt(JITTER_S + LOADED_JITTER_S)} s) and outbox (${OUTBOX_S * OUTBOX_ROUNDS * 6} s) measurements…`,
  );
  const loadBefore = loadavg()[0] ?? 0;
  const agents = await runAgents();
  const jitter = await measureJitter(JITTER_S);
  const loaded = await measureJitter(LOADED_JITTER_S, 30);
  const payload = await realisticBatch();
  const outbox = {
    batch: await measureOutbox("batch", payload),
    fsync: await measureOutbox("fsync", payload),
    none: await measureOutbox("none", payload),
  };

  const [ten, hundred] = agents.agents as [Running, Running];
  const [mem10, mem100] = agents.memory as [
    { rss: number; hwm: number },
    { rss: number; hwm: number },
  ];
  const [d10, d100] = agents.delivery as [
    (typeof agents.delivery)[number],
    (typeof agents.delivery)[number],
  ];
  const trajectory = (id: string) => {
    const r = agents.rss[id] ?? [];
    return [0.25, 0.5, 0.75, 1]
      .map((q) => `${fmt(r[Math.max(0, Math.round(r.length * q) - 1)] ?? Number.NaN, 1)}`)
      .join(" / ");
  };
  const figures = {
    rss_mb: Math.round(mem10.rss * 10) / 10,
    cpu_s_per_min_100hz: Math.round((agents.cpu[1] ?? Number.NaN) * 100) / 100,
    outbox_appends_per_s: Math.round(outbox.batch.inFlight),
    jitter_p99_ms: jitter.samples.p99,
  };
  const rows: Array<[string, string, string]> = [
    [
      "agent RSS after the run, 10 Hz",
      `${fmt(mem10.rss, 1)} MiB (peak VmHWM ${fmt(mem10.hwm, 1)} MiB); at ¼ ½ ¾ end: ${trajectory(ten.id)} MiB`,
      "< 80 MB",
    ],
    [
      "agent RSS after the run, 100 Hz",
      `${fmt(mem100.rss, 1)} MiB (peak ${fmt(mem100.hwm, 1)} MiB); at ¼ ½ ¾ end: ${trajectory(hundred.id)} MiB`,
      "",
    ],
    [
      "agent CPU time, 100 Hz",
      `${fmt(agents.cpu[1] ?? Number.NaN, 2)} CPU s per minute (${fmt((agents.cpu[1] ?? 0) / 0.6, 1)}% of one core), utime+stime over the last ${fmt(agents.windowS)} s`,
      "",
    ],
    [
      "agent CPU time, 10 Hz",
      `${fmt(agents.cpu[0] ?? Number.NaN, 2)} CPU s per minute (${fmt((agents.cpu[0] ?? 0) / 0.6, 1)}% of one core)`,
      "",
    ],
    [
      "delivered to the broker",
      `10 Hz: ${fmt(d10.samples)} samples (${fmt(d10.perSecond, 1)}/s), ${d10.complete ? "no gap" : "GAPS"}; 100 Hz: ${fmt(d100.samples)} (${fmt(d100.perSecond, 1)}/s), ${d100.complete ? "no gap" : "GAPS"}; ${d10.duplicates + d100.duplicates} duplicates`,
      "every sample",
    ],
    [
      "SIGTERM to exit",
      `${fmt(agents.stopS, 2)} s, exit codes ${agents.codes.join(", ")}`,
      "exit code 0",
    ],
    [
      "outbox append, batch (default)",
      `${fmt(outbox.batch.inFlight)}/s with 1,000 in flight (one group fsync per ≤50 ms window); ${fmt(outbox.batch.sequential, 1)}/s awaited one at a time (each waits for its window's fsync)`,
      "",
    ],
    [
      "outbox append, fsync",
      `${fmt(outbox.fsync.inFlight)}/s with 1,000 in flight; ${fmt(outbox.fsync.sequential)}/s one at a time (an fsync each, either way)`,
      "",
    ],
    [
      "outbox append, none",
      `${fmt(outbox.none.inFlight)}/s with 1,000 in flight; ${fmt(outbox.none.sequential)}/s one at a time (written to the OS, no fsync)`,
      "",
    ],
    [
      "sample timestamp jitter, 100 Hz FIFO",
      `p50 ${fmt(jitter.samples.p50, 1)} ms, p99 ${fmt(jitter.samples.p99, 1)} ms, max ${fmt(jitter.samples.max, 1)} ms over ${fmt(jitter.readings)} samples (${fmt(jitter.expected)} due), ${jitter.lost} lost`,
      "p99 < 2 ms",
    ],
    [
      `  its drain timer (every ${jitter.every} ms)`,
      `p50 ${fmt(jitter.timer.p50, 2)} ms, p99 ${fmt(jitter.timer.p99, 2)} ms, max ${fmt(jitter.timer.max, 2)} ms late or early`,
      "",
    ],
    [
      "  same, event loop busy 30 ms every 250 ms",
      `samples p99 ${fmt(loaded.samples.p99, 1)} ms, max ${fmt(loaded.samples.max, 1)} ms (${loaded.lost} lost); drain timer p99 ${fmt(loaded.timer.p99, 1)} ms, max ${fmt(loaded.timer.max, 1)} ms`,
      "",
    ],
  ];
  console.log(
    `device agent benchmark — Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}, Linux ${release()}, temp dir on ${fsType}; load average ${fmt(loadBefore, 2)} before, ${fmt(loadavg()[0] ?? 0, 2)} after (other work on the machine shows here)`,
  );
  console.log(
    `agents: the bundle (${fmt(agents.bytes / 1024)} KiB) run by node, synthetic sensor, default configuration (1 s batches, status every 30 s, outbox durability batch), TLS to a local aedes broker in the benchmark process; the 10 Hz and 100 Hz agents ran at the same time for ${SECONDS} s`,
  );
  console.log(
    `outbox: a ${Buffer.byteLength(payload)}-byte native batch (10 samples) per append, best of ${OUTBOX_ROUNDS} rounds of ${OUTBOX_S} s; jitter: the ADXL345 driver on the register-level simulator, ${fmt(JITTER_S)} s (${fmt(LOADED_JITTER_S)} s loaded), timestamps in whole ms\n`,
  );
  // what, target, measured: the long column last, so nothing is padded after it.
  const table = [
    ["what", "target", "measured"],
    ...rows.map(([what, measured, target]) => [what, target, measured]),
  ];
  const widths = [0, 1].map((c) => Math.max(...table.map((r) => (r[c] as string).length)));
  for (const [what, target, measured] of table)
    console.log(
      `${what?.padEnd(widths[0] as number)}  ${target?.padEnd(widths[1] as number)}  ${measured}`,
    );
  console.log(JSON.stringify(figures));
} finally {
  rmSync(work, { recursive: true, force: true });
}
