// `pnpm bench:console`: the console in Chromium against the local stack. Prints a table,
// then one JSON line with the figures issue 19 names.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { localCredentials, makeDynamoClient, makeDynamoStores, tableNames } from "@medusa/adapters";
import { connectTransport } from "@medusa/adapters/mqtt";
import {
  type ActivityBlock,
  BLOCK_MS,
  blockStartOf,
  columnsOf,
  DEFAULT_EPOCH_MS,
  deviceId,
  type EpochMillis,
  encodeSampleBatch,
  MetricsScratch,
  metricsOf,
  patientId,
  type Sample,
} from "@medusa/domain";
import { record, walking } from "@medusa/domain/testing";
import { startStack } from "@medusa/stack";
import { Effect } from "effect";
import { buildConsole, launchChromium } from "../test/browser.js";

const DEVICES = Number(process.env.BENCH_CONSOLE_DEVICES ?? 200);
const HOUR_MS = 3_600_000;
const RATE_HZ = 10;
const DAY = 86_400_000;
const RUNS = 3;
/** The longest the bench waits for anything in the page (each wait), then it says why. */
const WAIT_MS = Number(process.env.BENCH_CONSOLE_WAIT_MS ?? 30_000);

const loadAverage = () =>
  loadavg()
    .map((n) => n.toFixed(1))
    .join(", ");
const loadAtStart = loadAverage();
const consoleDir = await buildConsole("localstack");
const dir = mkdtempSync(join(tmpdir(), "medusa-console-bench-"));

// What the first page loads: index.html's own scripts and styles, gzipped.
const index = readFileSync(join(consoleDir, "index.html"), "utf8");
const initial = readdirSync(join(consoleDir, "assets")).filter((f) => index.includes(f));
const jsKbGzip =
  Math.round(
    (gzipSync(index).length +
      initial.reduce(
        (n, f) => n + gzipSync(readFileSync(join(consoleDir, "assets", f))).length,
        0,
      )) /
      102.4,
  ) / 10;

// What loads later, with the chart (uPlot and the raw view's Arrow decoder), gzipped.
const lazyKbGzip =
  Math.round(
    readdirSync(join(consoleDir, "assets"))
      .filter((f) => f.startsWith("chart-"))
      .reduce((n, f) => n + gzipSync(readFileSync(join(consoleDir, "assets", f))).length, 0) /
      102.4,
  ) / 10;

const stack = await startStack({
  dir,
  devices: 1,
  apiPort: 0,
  mqttPort: 0,
  dynamoPort: 0,
  settleMs: 1_000,
  consoleDir,
  // The clinic's zone (the week starts at its midnight); the machine's by default.
  ...(process.env.BENCH_CONSOLE_ZONE ? { timeZone: process.env.BENCH_CONSOLE_ZONE } : {}),
});
const browser = await launchChromium();
const post = async (path: string, body: unknown) => {
  const r = await fetch(`${stack.apiUrl}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.token}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
};
const count = async (patient: string, start: number, end: number) => {
  let n = 0;
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({
      start_time: String(start),
      end_time: String(end),
      limit: "10000",
      ...(cursor ? { cursor } : {}),
    });
    const r = await fetch(`${stack.apiUrl}/api/patients/${patient}/sensor-data?${q}`, {
      headers: { authorization: `Bearer ${stack.token}` },
    });
    const page = (await r.json()) as { count: number; next_cursor: string | null };
    n += page.count;
    cursor = page.next_cursor;
  } while (cursor);
  return n;
};

try {
  // One hour of raw 10 Hz samples of one patient, sent late by the device through the broker.
  const device = stack.deviceIds[0] as string;
  await stack.devices[0]?.stop();
  // The hour ends 3 hours ago: a 6-hour view centred on it lies within the week.
  const end = Date.now() - 3 * HOUR_MS;
  const start = end - HOUR_MS;
  await post("/api/devices/assign", {
    device_id: device,
    patient_id: "P-BENCH",
    patient_name: "Bench Patient",
    assignment_timestamp: start - 1_000,
  });
  const asDevice = connectTransport({
    host: "127.0.0.1",
    port: stack.mqttPort,
    clientId: device,
    ...stack.certificates(device),
    backoff: { baseMs: 50, capMs: 200 },
  });
  await asDevice.waitConnected();
  const perBatch = 600;
  const total = (HOUR_MS / 1000) * RATE_HZ;
  for (let i = 0; i < total; i += perBatch) {
    const batch = Array.from({ length: perBatch }, (_, j): Sample => {
      const k = i + j;
      const x = 0.1 * Math.sin(k / 7);
      const y = 0.05 * Math.cos(k / 11);
      const z = 0.98 + 0.02 * Math.sin(k / 3);
      return {
        timestamp: (start + k * (1000 / RATE_HZ)) as EpochMillis,
        sequence: 1_000_000 + k,
        x,
        y,
        z,
        magnitude: Math.sqrt(x * x + y * y + z * z),
      };
    });
    await asDevice.publish(`medusa/${device}/sensor/data`, encodeSampleBatch(batch));
  }
  await asDevice.close();
  const deadline = Date.now() + 120_000;
  while ((await count("P-BENCH", start, end + 1)) < total) {
    if (Date.now() > deadline) throw new Error("the hour of samples was not stored in time");
    await new Promise((r) => setTimeout(r, 500));
  }

  // The rest of the patient's week: six days and more before the hour, worn on another device
  // (walking 8 hours a day, still otherwise, a 3-hour gap on day 2), its activity blocks computed
  // by the domain from 10 Hz samples and written to the stack's activity table (a week of raw
  // samples through the broker would take the bench an hour).
  const weekDevice = deviceId("bench-week-a");
  // Whole blocks: a block's metrics are one item, written once.
  const weekStart = blockStartOf(start - 7 * DAY);
  const weekEnd = blockStartOf(start - 5 * 60_000);
  await post("/api/devices/assign", {
    device_id: weekDevice,
    patient_id: "P-BENCH",
    assignment_timestamp: weekStart,
  });
  await post("/api/devices/unassign", {
    device_id: weekDevice,
    patient_id: "P-BENCH",
    assignment_end: weekEnd,
  });
  const client = makeDynamoClient({
    endpoint: stack.dynamoEndpoint,
    region: "local",
    credentials: localCredentials,
  });
  const stores = makeDynamoStores({ client, tables: tableNames() });
  const scratch = new MetricsScratch();
  const blocks: Array<ActivityBlock> = [];
  const gap = { start: weekStart + 1.5 * DAY, end: weekStart + 1.5 * DAY + 3 * 3_600_000 };
  for (let t = weekStart; t < weekEnd; t += DAY) {
    const d = Math.round((t - weekStart) / DAY);
    const day = record(
      { start: t, durationMs: Math.min(DAY, weekEnd - t), oversample: 1 },
      (
        (gait) => (s: number) =>
          s % 7200 < 2400 ? gait(s) : [0, 0, 0]
      )(walking({ cadence: 95 + d * 5, amplitude: 0.35, seed: d + 1 }).motion),
    ).filter((s) => s.timestamp < gap.start || s.timestamp >= gap.end);
    if (day.length === 0) continue;
    for (const b of metricsOf(columnsOf(day), DEFAULT_EPOCH_MS, scratch))
      blocks.push({
        ...b,
        deviceId: weekDevice,
        patientId: patientId("P-BENCH"),
        ttl: Math.ceil((b.start + BLOCK_MS + 30 * DAY) / 1000),
      });
  }
  await Effect.runPromise(stores.activity.apply(weekDevice, blocks, []));
  client.destroy();

  // 200 devices, each worn by a patient.
  const ids = Array.from(
    { length: DEVICES },
    (_, i) => `bench-dev-${String(i + 1).padStart(3, "0")}`,
  );
  for (let i = 0; i < ids.length; i += 10)
    await Promise.all(
      ids
        .slice(i, i + 10)
        .map((id, j) =>
          post("/api/devices/assign", { device_id: id, patient_id: `P-${i + j + 1}` }),
        ),
    );

  // The fleet read alone, from Node: how much of the page's time is the API's. First, the fleet
  // shows the assigned devices (a bounded wait); if it never shows them all, the bench says so
  // and measures the page with the devices it does show.
  const fleetCount = async () => {
    const r = await fetch(`${stack.apiUrl}/api/devices?limit=500&status=assigned`, {
      headers: { authorization: `Bearer ${stack.token}` },
    });
    return ((await r.json()) as { count: number }).count;
  };
  let shownDevices = await fleetCount();
  for (const until = Date.now() + WAIT_MS; shownDevices < DEVICES && Date.now() < until; ) {
    await new Promise((r) => setTimeout(r, 500));
    shownDevices = await fleetCount();
  }
  if (shownDevices < DEVICES)
    console.error(
      `the fleet read shows ${shownDevices} of the ${DEVICES} assigned devices after ${WAIT_MS / 1000} s: the devices page is measured with ${shownDevices}`,
    );
  const apiRuns: Array<number> = [];
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    const r = await fetch(`${stack.apiUrl}/api/devices?limit=500`, {
      headers: { authorization: `Bearer ${stack.token}` },
    });
    await r.json();
    apiRuns.push(performance.now() - t0);
  }

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  // Every wait is bounded; when one runs out, the bench says what the page said meanwhile (its
  // console's errors and warnings, uncaught exceptions, failed requests) instead of hanging.
  page.setDefaultTimeout(WAIT_MS);
  const said: Array<string> = [];
  const hear = (line: string) => {
    said.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
    if (said.length > 40) said.shift();
  };
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") hear(`console.${m.type()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => hear(`page error: ${e.stack ?? e.message}`));
  page.on("crash", () => hear("the page crashed"));
  page.on("requestfailed", (r) => hear(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on("response", (r) => {
    if (r.status() >= 400) hear(`HTTP ${r.status()}: ${r.url()}`);
  });
  /** `wait` within WAIT_MS, or an error naming `what` with what the page said meanwhile. */
  const bounded = async <A>(what: string, wait: () => Promise<A>): Promise<A> => {
    const from = said.length;
    try {
      return await wait();
    } catch (e) {
      const state = await page
        .evaluate(`(() => {
          const c = document.querySelector('[data-testid="chart"]');
          const s = document.querySelector('[data-testid="chart-summary"]');
          return { url: location.href, drawn: c?.dataset.drawn ?? null, busy: s?.getAttribute("aria-busy") ?? null,
            summary: s?.textContent ?? null, alerts: [...document.querySelectorAll('[role="alert"]')].map((a) => a.textContent) };
        })()`)
        .catch((x) => `(the page could not be read: ${x})`);
      throw new Error(
        [
          `${what}: not within ${WAIT_MS / 1000} s (${e instanceof Error ? e.message.split("\n")[0] : e})`,
          `  the page: ${JSON.stringify(state)}`,
          said.length === 0
            ? "  the page said nothing (no errors, no warnings, no failed requests)"
            : `  what the page said${from > 0 ? " (earlier lines included)" : ""}:`,
          ...said.map((l) => `    ${l}`),
        ].join("\n"),
      );
    }
  };
  await bounded("the development sign-in", async () => {
    await page.goto(stack.consoleUrl as string);
    await page.getByRole("button", { name: "Sign in as clinician" }).click();
    await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
  });

  // Navigation to the Devices page (the whole fleet in one paginated read), until every
  // device shows its wearer.
  const pageRuns: Array<number> = [];
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    await page.goto(stack.consoleUrl as string);
    await bounded(`the devices page with ${shownDevices} devices`, () =>
      page.waitForFunction(
        (n) =>
          (
            globalThis as unknown as {
              document: { querySelectorAll(s: string): { length: number } };
            }
          ).document.querySelectorAll('[data-testid="devices-table"] tbody td:first-of-type a')
            .length >= n,
        shownDevices,
      ),
    );
    pageRuns.push(performance.now() - t0);
  }

  // Navigation to the patient's page until the week's epochs are drawn.
  const drawn = (kind: string) =>
    bounded(`the ${kind} chart`, () =>
      page.locator(`[data-testid="chart"][data-drawn="${kind}"]`).waitFor({ timeout: WAIT_MS }),
    );
  const weekRuns: Array<number> = [];
  const weekParts: Array<Record<string, number>> = [];
  let weekShown = "";
  for (let run = 0; run < RUNS; run++) {
    await bounded(`the page of device ${device}`, async () => {
      await page.goto(`${stack.consoleUrl}devices/${device}`);
      await page.getByRole("heading", { name: `Device ${device}` }).waitFor();
      // The device page's own reads (its history, configuration, the patient picker's fleet
      // read) answered: the API is not still busy with them when the patient's page asks.
      await page.waitForLoadState("networkidle", { timeout: WAIT_MS });
    });
    const t0 = performance.now();
    await bounded("the link to the patient", () =>
      page
        .getByTestId("current-patient")
        .getByRole("link", { name: /P-BENCH/ })
        .click(),
    );
    await drawn("epochs");
    weekRuns.push(performance.now() - t0);
    weekShown = (await page.getByTestId("chart-summary").textContent()) ?? "";
    weekParts.push(
      (await page.evaluate(`(() => {
        const p = performance;
        const sum = (name) => Math.round(p.getEntriesByName(name).reduce((n, e) => n + e.duration, 0));
        const reads = p.getEntriesByType("resource").filter((e) => e.name.includes("/activity?"));
        return {
          read_ms: sum("console:epochs-read"),
          render_ms: sum("console:render"),
          draw_ms: sum("console:draw"),
          requests: reads.length,
          server_ms_max: Math.round(Math.max(0, ...reads.map((e) => e.responseStart - e.requestStart))),
          download_ms_max: Math.round(Math.max(0, ...reads.map((e) => e.responseEnd - e.responseStart))),
          kb: Math.round(reads.reduce((n, e) => n + e.encodedBodySize, 0) / 1024),
        };
      })()`)) as Record<string, number>,
    );
  }

  // From 6 hours of epochs centred on the hour, "Hour": the hour's raw samples read and drawn.
  // Each run a fresh page, so nothing read before is reused.
  const zoomRuns: Array<number> = [];
  let shown = "";
  const parts: Array<Record<string, number>> = [];
  for (let run = 0; run < RUNS; run++) {
    const middle = Math.round((start + end) / 2);
    await page.goto(
      `${stack.consoleUrl}patients/P-BENCH?from=${middle - 3 * HOUR_MS}&to=${middle + 3 * HOUR_MS}`,
    );
    await drawn("epochs");
    await page.evaluate(() =>
      (
        globalThis as unknown as { performance: { clearMeasures(): void } }
      ).performance.clearMeasures(),
    );
    const t0 = performance.now();
    await bounded("the Hour button", () =>
      page.getByRole("button", { name: "Hour", exact: true }).click(),
    );
    await drawn("raw");
    zoomRuns.push(performance.now() - t0);
    shown = (await page.getByTestId("chart-summary").textContent()) ?? "";
    // Given as source text: the bench's own transpiler would wrap named functions in a helper
    // the page does not have.
    parts.push(
      (await page.evaluate(`(() => {
        const p = performance;
        const sum = (name) => Math.round(p.getEntriesByName(name).reduce((n, e) => n + e.duration, 0));
        const last = p.getEntriesByType("resource").filter((e) => e.name.includes("/sensor-data")).slice(-8);
        const asked = p.getEntriesByName("console:view-asked")[0];
        const drawn = p.getEntriesByName("console:draw").slice(-1)[0];
        return {
          asked_ms: sum("console:view-asked"),
          read_ms: sum("console:raw-read"),
          columns_ms: sum("console:raw-columns"),
          render_ms: sum("console:render"),
          draw_ms: sum("console:draw"),
          // In the page, from the click's handler to the chart drawn; the rest of zoom_to_raw_ms
          // is the bench's click (Playwright's checks) and its noticing the drawn chart.
          page_ms: asked && drawn ? Math.round(drawn.startTime + drawn.duration - asked.startTime) : -1,
          requests: last.length,
          server_ms_max: Math.round(Math.max(0, ...last.map((e) => e.responseStart - e.requestStart))),
          download_ms_max: Math.round(Math.max(0, ...last.map((e) => e.responseEnd - e.responseStart))),
          kb: Math.round(last.reduce((n, e) => n + e.encodedBodySize, 0) / 1024),
        };
      })()`)) as Record<string, number>,
    );
  }
  await context.close();

  const median = (xs: Array<number>) =>
    Math.round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number);
  const figures = {
    js_kb_gzip: jsKbGzip,
    devices_page_ms: median(pageRuns),
    week_chart_ms: median(weekRuns),
    zoom_to_raw_ms: median(zoomRuns),
  };
  const row = (what: string, value: string, target: string) =>
    console.log(`${what.padEnd(48)}${value.padEnd(34)}${target}`);
  row("what", "measured", "target");
  row("initial load (JS + CSS + HTML, gzip)", `${jsKbGzip} KB`, "≤ 250 KB");
  row("  later, with the chart (uPlot, Arrow; gzip)", `${lazyKbGzip} KB`, "");
  row(
    `devices page, ${DEVICES} devices (median of 3)`,
    `${figures.devices_page_ms} ms (${pageRuns.map(Math.round).join(", ")})`,
    "< 1,000 ms",
  );
  row(
    "  of it, the fleet read (API alone)",
    `${median(apiRuns)} ms (${apiRuns.map(Math.round).join(", ")})`,
    "",
  );
  row(
    `week chart (${/^[\d,]+ epochs/.exec(weekShown)?.[0]}), median of ${RUNS}`,
    `${figures.week_chart_ms} ms (${weekRuns.map(Math.round).join(", ")})`,
    "< 1,000 ms",
  );
  row(
    `one hour of raw samples (${/^[\d,]+/.exec(shown)?.[0]}), median of ${RUNS}`,
    `${figures.zoom_to_raw_ms} ms (${zoomRuns.map(Math.round).join(", ")})`,
    "< 500 ms",
  );
  const medianOf = (runs: Array<number>, of: Array<Record<string, number>>) =>
    of[runs.indexOf([...runs].sort((a, b) => a - b)[Math.floor(runs.length / 2)] as number)] ?? {};
  console.log(
    `  where the week's time went (median run): ${JSON.stringify(medianOf(weekRuns, weekParts))}`,
  );
  console.log(
    `  where the hour's time went (median run): ${JSON.stringify(medianOf(zoomRuns, parts))}`,
  );
  console.log(
    `  the machine's load average (1, 5, 15 min): at the start ${loadAtStart}, at the end ${loadAverage()}`,
  );
  console.log(JSON.stringify(figures));
} finally {
  await browser.close();
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(consoleDir, { recursive: true, force: true });
}
