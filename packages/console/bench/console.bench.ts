// `pnpm bench:console`: the console in Chromium against the local stack. Prints a table,
// then one JSON line with the figures issue 19 names.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { connectTransport } from "@medusa/adapters/mqtt";
import { type EpochMillis, encodeSampleBatch, type Sample } from "@medusa/domain";
import { startStack } from "@medusa/stack";
import { buildConsole, launchChromium } from "../test/browser.js";

const DEVICES = Number(process.env.BENCH_CONSOLE_DEVICES ?? 200);
const HOUR_MS = 3_600_000;
const RATE_HZ = 10;

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

const stack = await startStack({
  dir,
  devices: 1,
  apiPort: 0,
  mqttPort: 0,
  dynamoPort: 0,
  settleMs: 1_000,
  consoleDir,
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
  const end = Date.now() - 60_000;
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

  // The fleet read alone, from Node: how much of the page's time is the API's.
  const apiRuns: Array<number> = [];
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    const r = await fetch(`${stack.apiUrl}/api/devices?limit=500`, {
      headers: { authorization: `Bearer ${stack.token}` },
    });
    const page = (await r.json()) as { count: number };
    if (page.count < DEVICES) throw new Error(`the fleet read gave ${page.count} devices`);
    apiRuns.push(performance.now() - t0);
  }

  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(60_000);
  await page.goto(stack.consoleUrl as string);
  await page.getByRole("button", { name: "Sign in as clinician" }).click();
  await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();

  // Navigation to the Devices page (the whole fleet in one paginated read), until every
  // device shows its wearer.
  const pageRuns: Array<number> = [];
  for (let run = 0; run < 3; run++) {
    const t0 = performance.now();
    await page.goto(stack.consoleUrl as string);
    await page.waitForFunction(
      (n) =>
        (
          globalThis as unknown as {
            document: { querySelectorAll(s: string): { length: number } };
          }
        ).document.querySelectorAll('[data-testid="devices-table"] tbody td:first-of-type a')
          .length >= n,
      DEVICES,
    );
    pageRuns.push(performance.now() - t0);
  }

  // The patient's page, then the hour of raw samples drawn.
  await page.goto(`${stack.consoleUrl}patients/P-BENCH`);
  await page.locator('[data-testid="chart-summary"][aria-busy="false"]').waitFor();
  const zoomRuns: Array<number> = [];
  let shown = "";
  for (let run = 0; run < 3; run++) {
    await page.getByRole("button", { name: "Last 15 minutes" }).click();
    await page.locator('[data-testid="chart-summary"][aria-busy="false"]').waitFor();
    const t0 = performance.now();
    await page.getByRole("button", { name: "Last hour" }).click();
    // The hour's count replaces the 15 minutes' (at most 9,000).
    await page.waitForFunction(() => {
      const doc = (
        globalThis as unknown as {
          document: { querySelector(s: string): { textContent: string | null } | null };
        }
      ).document;
      const text = doc.querySelector('[data-testid="chart-summary"]')?.textContent ?? "";
      return Number(/^([\d,]+) samples/.exec(text)?.[1]?.replaceAll(",", "") ?? 0) > 20_000;
    });
    shown = (await page.getByTestId("chart-summary").textContent()) ?? "";
    await page.evaluate(
      () =>
        new Promise((r) =>
          (
            globalThis as unknown as { requestAnimationFrame(f: () => void): void }
          ).requestAnimationFrame(() => r(null)),
        ),
    );
    zoomRuns.push(performance.now() - t0);
  }
  await context.close();

  const median = (xs: Array<number>) => Math.round([...xs].sort((a, b) => a - b)[1] as number);
  const figures = {
    js_kb_gzip: jsKbGzip,
    devices_page_ms: median(pageRuns),
    week_chart_ms: null,
    zoom_to_raw_ms: median(zoomRuns),
  };
  const row = (what: string, value: string, target: string) =>
    console.log(`${what.padEnd(48)}${value.padEnd(34)}${target}`);
  row("what", "measured", "target");
  row("initial load (JS + CSS + HTML, gzip)", `${jsKbGzip} KB`, "≤ 250 KB");
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
  row("week chart", "n/a (needs the activity route)", "< 1,000 ms");
  row(
    `one hour of raw samples (${/^[\d,]+/.exec(shown)?.[0]}), median of 3`,
    `${figures.zoom_to_raw_ms} ms (${zoomRuns.map(Math.round).join(", ")})`,
    "< 500 ms",
  );
  console.log(JSON.stringify(figures));
} finally {
  await browser.close();
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(consoleDir, { recursive: true, force: true });
}
