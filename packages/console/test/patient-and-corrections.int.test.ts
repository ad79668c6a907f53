import { readFileSync } from "node:fs";
import { join } from "node:path";
import { connectTransport } from "@medusa/adapters/mqtt";
import { type EpochMillis, encodeSampleBatch, type Sample } from "@medusa/domain";
import type { Page, Request, Route } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { CLINIC_ZONE, consoleInBrowser, expectAccessible, screenshotDir } from "./browser.js";

// The clinic is in Berlin; the browser runs in New York.
const PATIENT = "P-CHART";
const MIN = 60_000;

const ui = consoleInBrowser("patient", { activityPassMs: 500 });
const { signIn } = ui;
const newPage = () => ui.newPage({ timeoutMs: 30_000, acceptDownloads: true });
const shots = screenshotDir();
let device: string;
/** The recording: 20 minutes at 10 Hz ending 2 minutes ago, without the minutes [8, 11). */
let recStart: number;
let recEnd: number;
let gap: { start: number; end: number };

const api = async (method: string, path: string, body?: unknown, accept = "application/json") => {
  const r = await fetch(`${ui.stack.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${ui.stack.token}`,
      accept,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return accept === "application/json" ? JSON.parse(text) : text;
};

beforeAll(async () => {
  device = ui.stack.deviceIds[0] as string;
  await ui.stack.devices[0]?.stop();
  recEnd = Math.floor((Date.now() - 2 * MIN) / 1000) * 1000;
  recStart = recEnd - 20 * MIN;
  gap = { start: recStart + 8 * MIN, end: recStart + 11 * MIN };
  await api("POST", "/api/devices/assign", {
    device_id: device,
    patient_id: PATIENT,
    patient_name: "Chart Patient",
    assignment_timestamp: recStart - 1_000,
  });
  const asDevice = connectTransport({
    host: "127.0.0.1",
    port: ui.stack.mqttPort,
    clientId: device,
    ...ui.stack.certificates(device),
    backoff: { baseMs: 50, capMs: 200 },
  });
  await asDevice.waitConnected();
  let sent = 0;
  for (let t = recStart; t < recEnd; t += 60_000) {
    const batch: Array<Sample> = [];
    for (let k = 0; k < 600; k++) {
      const at = t + k * 100;
      if (at >= gap.start && at < gap.end) continue;
      const n = (at - recStart) / 100;
      const x = 0.3 * Math.sin(n / 3);
      const z = 0.98 + 0.2 * Math.sin(n / 5);
      batch.push({
        timestamp: at as EpochMillis,
        sequence: 5_000_000 + n,
        x,
        y: 0.05,
        z,
        magnitude: Math.sqrt(x * x + 0.0025 + z * z),
      });
    }
    if (batch.length === 0) continue;
    sent += batch.length;
    await asDevice.publish(`medusa/${device}/sensor/data`, encodeSampleBatch(batch));
  }
  await asDevice.close();
  // Stored, and the activity pass has made its epochs.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const page = await api(
      "GET",
      `/api/patients/${PATIENT}/activity?start_time=${recStart - MIN}&end_time=${recEnd + MIN}`,
    );
    const samples = (page.epochs as Array<{ samples: number }>).reduce((n, e) => n + e.samples, 0);
    if (samples >= sent) break;
    if (Date.now() > deadline) throw new Error(`activity: ${samples} of ${sent} samples`);
    await new Promise((r) => setTimeout(r, 500));
  }
}, 240_000);

const chart = (page: Page) => page.getByTestId("chart");
const drawn = (page: Page, kind: "epochs" | "raw") =>
  page.locator(`[data-testid="chart"][data-drawn="${kind}"]`).waitFor();
const viewOf = async (page: Page) => ({
  start: Number(await chart(page).getAttribute("data-start")),
  end: Number(await chart(page).getAttribute("data-end")),
});

/**
 * How many pixels of a column of the plot at time `t` have the colour of the
 * first line (ENMO, or the device's magnitude): none where a gap is drawn as
 * a gap, some where the line runs.
 */
const linePixelsAt = async (page: Page, t: number) => {
  const { start, end } = await viewOf(page);
  return page.evaluate(
    ({ t, start, end }) => {
      type Box = { left: number; top: number; width: number; height: number };
      const doc = (
        globalThis as unknown as {
          document: {
            querySelector(s: string): {
              getBoundingClientRect(): Box;
              getContext?(k: string): {
                getImageData(
                  x: number,
                  y: number,
                  w: number,
                  h: number,
                ): { data: Uint8ClampedArray };
              };
              width?: number;
            } | null;
          };
        }
      ).document;
      const over = doc.querySelector('[data-testid="chart"] .u-over')?.getBoundingClientRect();
      const canvas = doc.querySelector('[data-testid="chart"] canvas');
      if (!over || !canvas?.getContext) throw new Error("no chart");
      const box = canvas.getBoundingClientRect();
      const ratio = (canvas.width ?? box.width) / box.width;
      const x = Math.round(
        (over.left - box.left + ((t - start) / (end - start)) * over.width) * ratio,
      );
      const top = Math.round((over.top - box.top) * ratio);
      const height = Math.round(over.height * ratio);
      const data =
        canvas.getContext("2d")?.getImageData(x - 1, top, 3, height).data ??
        new Uint8ClampedArray();
      let n = 0;
      // #1f5fa8, anti-aliased: bluish, dark enough.
      for (let i = 0; i < data.length; i += 4) {
        const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]] as number[];
        if (
          (a as number) > 100 &&
          (b as number) > 120 &&
          (r as number) < 110 &&
          (g as number) < 150
        )
          n++;
      }
      return n;
    },
    { t, start, end },
  );
};

describe("the patient page and corrections in Chromium against the local stack", () => {
  it("a patient's week: bands, days in the clinic's zone, epochs; zoom by keys to raw samples, a gap drawn as a gap, drag to a minute; CSV downloads", async () => {
    const { context, page } = await newPage();
    // What the raw view's reads were answered with: Arrow (the console asks for it).
    const sampleAnswers: Array<string | null> = [];
    page.on("response", (r) => {
      if (r.url().includes("/sensor-data")) sampleAnswers.push(r.headers()["content-type"] ?? null);
    });
    await signIn(page);
    await page.goto(`${ui.stack.consoleUrl}patients/${PATIENT}`);
    await page.getByRole("heading", { name: `Patient ${PATIENT} (Chart Patient)` }).waitFor();
    await drawn(page, "epochs");
    // The assignment as a band, the week's days named in the clinic's zone.
    expect(await page.getByTestId("bands").textContent()).toContain(device);
    const days = page.getByTestId("activity-days").locator("tbody tr");
    expect(await days.count()).toBe(7);
    expect(
      await page.getByText(/Days in the clinic's time zone, Europe\/Berlin \(CE(S)?T\)/).count(),
    ).toBe(1);
    // Today's row says what the API says for the clinic's day.
    const todayDate = new Intl.DateTimeFormat("en-CA", { timeZone: CLINIC_ZONE }).format(
      Date.now(),
    );
    const daily = await api(
      "GET",
      `/api/patients/${PATIENT}/activity/daily?start_date=${todayDate}&end_date=${todayDate}&tz=${CLINIC_ZONE}`,
    );
    const apiToday = daily.days[0] as {
      wear_minutes: number;
      sedentary_minutes: number;
      light_minutes: number;
      moderate_minutes: number;
      vigorous_minutes: number;
      steps: number;
      coverage: number;
    };
    expect(apiToday.wear_minutes + apiToday.sedentary_minutes).toBeGreaterThan(0);
    const today = await days.last().locator("td").allTextContents();
    expect(today).toEqual([
      `${Math.floor(apiToday.wear_minutes / 60)} h ${String(apiToday.wear_minutes % 60).padStart(2, "0")}`,
      String(apiToday.sedentary_minutes),
      String(apiToday.light_minutes),
      String(apiToday.moderate_minutes),
      String(apiToday.vigorous_minutes),
      apiToday.steps.toLocaleString("en-GB"),
      `${Math.round(apiToday.coverage * 100)} %`,
    ]);
    const summary = page.getByTestId("chart-summary");
    expect(await summary.textContent()).toMatch(/epochs of 60 s from medusa-sim-01/);
    expect(await chart(page).getAttribute("aria-label")).toContain("epochs of 60 s");
    await expectAccessible(page, "patient, week");
    await page.screenshot({ path: join(shots, "patient-week.png"), fullPage: true });

    // Keyboard only: Tab to the chart, then + until the raw samples show (the view keeps ending now).
    await page.getByRole("heading", { level: 1 }).focus();
    for (let i = 0; i < 60; i++) {
      await page.keyboard.press("Tab");
      if (
        await chart(page).evaluate(
          (el) => el === (el.ownerDocument as { activeElement: unknown }).activeElement,
        )
      )
        break;
    }
    expect(
      await chart(page).evaluate(
        (el) => el === (el.ownerDocument as { activeElement: unknown }).activeElement,
      ),
    ).toBe(true);
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press("+");
      await page.locator('[data-testid="chart-summary"][aria-busy="false"]').waitFor();
    }
    // 7 days / 4^4: about 40 minutes ending now, raw.
    await drawn(page, "raw");
    const hour = await viewOf(page);
    expect(hour.end - hour.start).toBeLessThanOrEqual(3_600_000);
    expect(hour.start).toBeLessThan(recStart);
    const rawText = (await summary.textContent()) ?? "";
    const count = Number(/^([\d,]+) raw samples/.exec(rawText)?.[1]?.replaceAll(",", ""));
    expect(count).toBe(17 * 600);
    expect(rawText).toContain("gap");
    // Drawn from Arrow pages: every sample read came as an Arrow IPC stream.
    expect(sampleAnswers.length).toBeGreaterThan(0);
    expect(new Set(sampleAnswers)).toEqual(new Set(["application/vnd.apache.arrow.stream"]));
    // The gap: no line across it; the recording on either side drawn.
    const gaps = JSON.parse((await chart(page).getAttribute("data-gaps")) ?? "[]") as Array<
      [number, number]
    >;
    expect(gaps.some(([a, b]) => a <= gap.start && b >= gap.end - 100)).toBe(true);
    expect(await linePixelsAt(page, (gap.start + gap.end) / 2)).toBe(0);
    expect(await linePixelsAt(page, recStart + 4 * MIN)).toBeGreaterThan(0);
    expect(await linePixelsAt(page, recStart + 15 * MIN)).toBeGreaterThan(0);
    await expectAccessible(page, "patient, raw hour");
    await page.screenshot({ path: join(shots, "patient-raw.png"), fullPage: true });

    // Back out by key to epochs (5 s): the gap is a gap there too.
    await page.keyboard.press("-");
    await drawn(page, "epochs");
    expect(await linePixelsAt(page, (gap.start + gap.end) / 2)).toBe(0);
    expect(await linePixelsAt(page, recStart + 4 * MIN)).toBeGreaterThan(0);
    await page.keyboard.press("+");
    await drawn(page, "raw");

    // Drag across one minute of the recording: its raw samples, 600 of them.
    const view = await viewOf(page);
    const over = await chart(page).locator(".u-over").boundingBox();
    if (!over) throw new Error("no plot");
    const xAt = (t: number) => over.x + ((t - view.start) / (view.end - view.start)) * over.width;
    const from = recStart + 2 * MIN;
    await page.mouse.move(xAt(from), over.y + over.height / 2);
    await page.mouse.down();
    await page.mouse.move(xAt(from + 40_000), over.y + over.height / 2, { steps: 5 });
    await page.mouse.up();
    await expect
      .poll(async () => {
        const v = await viewOf(page);
        return v.end - v.start;
      })
      .toBe(60_000);
    await drawn(page, "raw");
    const minute = await viewOf(page);
    expect(minute.end - minute.start).toBe(60_000);
    const minuteText = (await summary.textContent()) ?? "";
    const inMinute = Number(/^([\d,]+) raw samples/.exec(minuteText)?.[1]?.replaceAll(",", ""));
    expect(inMinute).toBeGreaterThanOrEqual(590);
    expect(inMinute).toBeLessThanOrEqual(601);
    expect(page.url()).toContain(`from=${minute.start}&to=${minute.end}`);

    // Home: the week again (its epochs from the page's cache).
    await chart(page).focus();
    await page.keyboard.press("Home");
    await drawn(page, "epochs");

    // CSV: the week's days, and the view's epochs, as the API has them.
    const [daysFile] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download the days (CSV)" }).click(),
    ]);
    const daysCsv = readFileSync((await daysFile.path()) as string, "utf8");
    expect(daysCsv).toContain(`# patient ${PATIENT}; days `);
    expect(daysCsv).toContain(`in ${CLINIC_ZONE}`);
    const dayRows = daysCsv.split("\r\n").filter((l) => /^\d{4}-\d{2}-\d{2},/.test(l));
    expect(dayRows).toHaveLength(7);
    expect(daysFile.suggestedFilename()).toMatch(/^P-CHART-days-.*\.csv$/);

    await chart(page).focus();
    for (let i = 0; i < 3; i++) await page.keyboard.press("+");
    await drawn(page, "epochs");
    const csvView = await viewOf(page);
    const [epochFile] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Download the view's epochs (CSV)" }).click(),
    ]);
    const epochCsv = readFileSync((await epochFile.path()) as string, "utf8");
    const lines = epochCsv.split("\r\n").filter((l) => l !== "" && !l.startsWith("#"));
    expect(lines[0]).toMatch(/^time,epoch_ms,device_id,enmo_mg,mad_mg/);
    const rows = lines.slice(1).map((l) => l.split(","));
    expect(rows.length).toBeGreaterThan(0);
    for (const r of rows) {
      expect(Number(r[0])).toBeGreaterThanOrEqual(csvView.start - 60_000);
      expect(Number(r[0])).toBeLessThan(csvView.end);
      expect(r[2]).toBe(device);
    }
    // The same rows as the API's CSV for that view.
    const epochMs = Number(rows[0]?.[1]);
    const fromApi = (await api(
      "GET",
      `/api/patients/${PATIENT}/activity?start_time=${Math.floor(csvView.start / epochMs) * epochMs}&end_time=${csvView.end}&epoch_ms=${epochMs}`,
      undefined,
      "text/csv",
    )) as string;
    expect(epochCsv).toBe(fromApi.replace(/# more:[^\r]*\r\n/, ""));
    await context.close();
  }, 180_000);

  it("corrections on a device's history: refused next to their field, confirmed, applied once, the retracted row marked; the patient picker", async () => {
    const CD = "corr-dev-01";
    const now = Date.now();
    const h = 3_600_000;
    await api("POST", "/api/devices/assign", {
      device_id: CD,
      patient_id: "P-A",
      assignment_timestamp: now - 5 * h,
    });
    await api("POST", "/api/devices/reassign", {
      device_id: CD,
      patient_id: "P-B",
      assignment_timestamp: now - 4 * h,
    });
    await api("POST", "/api/devices/unassign", {
      device_id: CD,
      patient_id: "P-B",
      assignment_end: now - 3 * h,
    });
    await api("POST", "/api/devices/assign", {
      device_id: CD,
      patient_id: "P-C",
      assignment_timestamp: now - 2 * h,
    });
    const trail = async () =>
      (await api("GET", `/api/devices/${CD}/assignments`)).assignments as Array<
        Record<string, unknown>
      >;

    const { context, page } = await newPage();
    await signIn(page);
    await page.goto(`${ui.stack.consoleUrl}devices/${CD}`);
    await page.getByRole("heading", { name: `Device ${CD}` }).waitFor();
    const form = page.locator(`#correct-${CD}`);
    await form.waitFor();
    await expectAccessible(page, "device with corrections");

    const posts: Array<Request> = [];
    page.on("request", (r) => {
      if (r.method() === "POST" && r.url().includes("/assignments/")) posts.push(r);
    });

    // Keyboard only: retract P-C's assignment (the newest, chosen first). The note is required.
    await form.getByLabel("Assignment").focus();
    await page.keyboard.press("Tab"); // the first choice: Retract it
    expect(await form.getByRole("radio", { name: /^Retract it/ }).isChecked()).toBe(true);
    await page.keyboard.press("Tab"); // reason
    await page.keyboard.press("Tab"); // note
    await page.keyboard.press("Tab"); // the button
    await page.keyboard.press("Enter");
    const noteError = form.locator(`#correct-${CD}-note-error`);
    await noteError.waitFor();
    expect(await noteError.textContent()).toContain("the note is required");
    expect(await form.getByLabel(/^Note/).getAttribute("aria-invalid")).toBe("true");
    expect(posts).toHaveLength(0);
    // Focus went to the note: type and send.
    await page.keyboard.type("Put on the wrong patient's chart; never worn");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    const confirm = form.getByTestId("correction-confirm");
    await confirm.waitFor();
    expect(await confirm.textContent()).toMatch(/^Retract P-C, .* – now: it leaves the record/);
    await expectAccessible(page, "correction to confirm");
    await page.screenshot({ path: join(shots, "correction-confirm.png"), fullPage: true });
    // Focus is on "Confirm the correction": Enter, twice quickly.
    await page.keyboard.press("Enter");
    await page.keyboard.press("Enter");
    await page.getByRole("status").getByText("Assignment of P-C retracted.").waitFor();
    const retracted = page.getByTestId("audit-trail").locator("tbody tr.retracted");
    await retracted.waitFor();
    expect(await retracted.textContent()).toContain("Retracted (entered in error)");
    expect(await retracted.textContent()).toContain("never worn");
    expect(posts.length).toBeGreaterThanOrEqual(1);
    expect(new Set(posts.map((r) => r.headers()["idempotency-key"])).size).toBe(1);
    expect(posts[0]?.headers()["idempotency-key"]).toMatch(/^[0-9a-f-]{36}$/);
    const afterRetract = await trail();
    expect(afterRetract.filter((a) => a.status === "entered_in_error")).toHaveLength(1);
    expect(afterRetract.find((a) => a.patient_id === "P-C")).toMatchObject({
      status: "entered_in_error",
      correction: { reason: "not_worn", note: "Put on the wrong patient's chart; never worn" },
    });
    await expectAccessible(page, "retracted row");
    // A retracted assignment is not offered again.
    const options = await form.getByLabel("Assignment").locator("option").allTextContents();
    expect(options.map((o) => o.slice(0, 3))).toEqual(["P-B", "P-A"]);

    // Correct the patient of P-A's assignment to P-A: the API refuses, next to the patient field.
    await form.getByLabel("Assignment").selectOption({
      label:
        (await form
          .getByLabel("Assignment")
          .locator("option", { hasText: /^P-A/ })
          .textContent()) ?? "",
    });
    await form.getByRole("radio", { name: /^Correct the patient/ }).check();
    await form.getByLabel(/^The patient who wore it/).fill("P-A");
    await form.getByLabel(/^Note/).fill("Checked the ward list");
    await form.getByRole("button", { name: "Review the correction" }).click();
    await form.getByRole("button", { name: "Confirm the correction" }).click();
    const patientError = form.locator(`#correct-${CD}-patient_id-error`);
    await patientError.waitFor();
    expect(await patientError.textContent()).toBe(
      "The record already names this patient for that period.",
    );
    await expectAccessible(page, "correction refused");
    await page.screenshot({ path: join(shots, "correction-refused.png"), fullPage: true });
    // Then the right patient: applied.
    await form.getByLabel(/^The patient who wore it/).fill("P-Z");
    await form.getByRole("button", { name: "Review the correction" }).click();
    await form.getByRole("button", { name: "Confirm the correction" }).click();
    await page.getByRole("status").getByText("Assignment corrected: patient P-Z.").waitFor();
    expect((await trail()).map((a) => a.patient_id)).toEqual(["P-C", "P-B", "P-Z"]);

    // Amend P-B's start an hour earlier: it would overlap P-Z's; refused next to the start field.
    const pb = form.getByLabel("Assignment").locator("option", { hasText: /^P-B/ });
    await form.getByLabel("Assignment").selectOption({ label: (await pb.textContent()) ?? "" });
    await form.getByRole("radio", { name: /^Amend its times/ }).check();
    const earlier = new Intl.DateTimeFormat("sv-SE", {
      timeZone: CLINIC_ZONE,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    })
      .format(now - 4 * h - 30 * MIN)
      .replace(" ", "T");
    await form.getByLabel(/^True start/).fill(earlier);
    await form.getByLabel(/^Note/).fill("The hand-over was earlier");
    await form.getByRole("button", { name: "Review the correction" }).click();
    await form.getByRole("button", { name: "Confirm the correction" }).click();
    const startError = form.locator(`#correct-${CD}-start-error`);
    await startError.waitFor();
    expect(await startError.textContent()).toMatch(/^These times would overlap P-Z's assignment/);
    // With the adjoining assignment moved too: applied, both boundaries moved.
    await form.getByLabel(/Move the adjoining assignment too/).check();
    await form.getByRole("button", { name: "Review the correction" }).click();
    await form.getByRole("button", { name: "Confirm the correction" }).click();
    await page.getByRole("status").getByText("Times of P-B's assignment amended.").waitFor();
    const amended = await trail();
    const b = amended.find((a) => a.patient_id === "P-B");
    const z = amended.find((a) => a.patient_id === "P-Z");
    expect(b?.assignment_timestamp).toBe(z?.assignment_end);
    expect(Math.abs((b?.assignment_timestamp as number) - (now - 4.5 * h))).toBeLessThan(MIN);
    await expectAccessible(page, "after corrections");
    await page.screenshot({ path: join(shots, "corrections.png"), fullPage: true });

    // The patient picker on an available device: the patients the fleet knows, searchable;
    // an ID the API would refuse is refused before sending.
    await page.goto(`${ui.stack.consoleUrl}devices/corr-dev-02`);
    await page.getByRole("heading", { name: "Device corr-dev-02" }).waitFor();
    const assign = page.locator("#assign-corr-dev-02");
    const choices = assign.locator("datalist option");
    await expect.poll(() => choices.count()).toBeGreaterThan(0);
    const offered = await choices.evaluateAll((os) =>
      os.map((o) => (o as unknown as { value: string }).value),
    );
    expect(offered).toContain(PATIENT); // wears medusa-sim-01 now
    expect(offered).not.toContain("P-C"); // retracted: wears nothing now
    await assign.getByLabel(/^Patient ID/).fill("UNASSIGNED");
    const before = posts.length;
    await assign.getByRole("button", { name: "Assign device" }).click();
    await assign.locator("#assign-corr-dev-02-patient_id-error").waitFor();
    expect(await assign.locator("#assign-corr-dev-02-patient_id-error").textContent()).toContain(
      "reserved",
    );
    expect(posts.length).toBe(before);
    await assign.getByLabel(/^Patient ID/).fill(PATIENT);
    await assign.getByRole("button", { name: "Assign device" }).click();
    await page.getByTestId("current-patient").getByText("Worn by").waitFor();
    await context.close();
  }, 180_000);

  it("the chart stays drawn when the devices worn and the days arrive after it (the bench's week: a slow API)", async () => {
    // What the bench's week showed under load: the epochs read first, the patient's devices and
    // days after them. Preact then replaced the chart's element, and the chart drawn into the old
    // one was gone (the summary said 9,617 epochs; no chart, no error).
    const { context, page } = await newPage();
    await signIn(page);
    let release = () => {};
    const released = new Promise<void>((r) => {
      release = r;
    });
    const held = async (route: Route) => {
      await released;
      await route.continue();
    };
    await page.route(/\/devices\?include=history/, held);
    await page.route(/\/activity\/daily\?/, held);
    await page.goto(`${ui.stack.consoleUrl}patients/${PATIENT}`);
    await drawn(page, "epochs");
    expect(await page.getByTestId("bands").count()).toBe(0);
    release();
    await page.getByTestId("activity-days").waitFor();
    await page.getByTestId("bands").waitFor();
    // Drawn, and drawn in the chart on the page: its canvas is there.
    await page
      .locator('[data-testid="chart"][data-drawn="epochs"] canvas')
      .first()
      .waitFor({ timeout: 10_000 });
    expect(await page.getByRole("alert").count()).toBe(0);
    await context.close();
  });
});
