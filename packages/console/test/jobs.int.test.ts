import { join } from "node:path";
import type { Page, Response } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import { consoleInBrowser, expectAccessible, screenshotDir, until } from "./browser.js";

// A device's jobs panel in Chromium against the local stack: the stack's simulated device
// takes its jobs from the Jobs emulation (its MQTT API) and reports their outcome, as in
// packages/stack/src/jobs.int.test.ts. The clinic is in Berlin; the browser runs in New York.
const ui = consoleInBrowser("jobs");
const { newPage, signIn, call } = ui;
const shots = screenshotDir();
let SIM: string;

beforeAll(() => {
  SIM = ui.stack.deviceIds[0] as string;
});

// biome-ignore lint/performance/useDomNodeTextContent: the layout's text is what is checked
const shownText = (l: ReturnType<Page["locator"]>) => l.innerText();

type Job = { job_id: string; type: string; status: string; status_details: Record<string, string> };
const jobsOf = async (id: string) =>
  (await call("GET", `/api/devices/${id}/jobs`)).json.jobs as Array<Job>;

describe("a device's jobs panel in Chromium against the local stack", () => {
  it("a clinician starts an outbox flush with the keyboard and sees it go from queued to succeeded without a reload; a settings job refused next to its field, then taken", async () => {
    const { context, page } = await newPage();
    const jobReads: Array<number> = [];
    page.on("response", (r: Response) => {
      if (
        new URL(r.url()).pathname === `/api/devices/${SIM}/jobs` &&
        r.request().method() === "GET"
      )
        jobReads.push(r.status());
    });
    await signIn(page, "clinician");
    await page.goto(`${ui.stack.consoleUrl}devices/${SIM}`);
    const panel = page.getByTestId("jobs");
    await panel.getByTestId("no-jobs").waitFor();
    // Polled with the list's ETag: an unchanged list is a 304 with no body.
    await until(async () => jobReads.includes(304), "a 304 while nothing changes", 15_000);

    // Every status the job's row shows, as it shows them; and no reload meanwhile.
    await page.evaluate(() => {
      type El = { getAttribute(name: string): string | null };
      const g = globalThis as unknown as {
        notReloaded: boolean;
        seen: Array<string>;
        MutationObserver: new (
          f: () => void,
        ) => { observe(target: unknown, options: Record<string, unknown>): void };
        document: { body: unknown; querySelectorAll(selector: string): Iterable<El> };
      };
      g.notReloaded = true;
      g.seen = [];
      const note = () => {
        for (const row of g.document.querySelectorAll("[data-testid=jobs-table] tr[data-status]")) {
          const s = `${row.getAttribute("data-job")} ${row.getAttribute("data-status")}`;
          if (g.seen.at(-1) !== s && !g.seen.includes(s)) g.seen.push(s);
        }
      };
      new g.MutationObserver(note).observe(g.document.body, {
        subtree: true,
        childList: true,
        attributes: true,
        attributeFilter: ["data-status"],
      });
    });

    const flush = panel.getByRole("button", { name: "Start: send waiting samples" });
    await flush.focus();
    await page.keyboard.press("Enter");
    await panel
      .getByTestId("jobs-announce")
      .getByText(/^Job queued: Send the waiting samples now/)
      .waitFor();
    const row = panel.locator("tr[data-job]").first();
    await until(
      async () => (await row.getAttribute("data-status")) === "SUCCEEDED",
      "the flush SUCCEEDED in the panel",
    );
    const jobId = (await row.getAttribute("data-job")) as string;
    expect(jobId).toMatch(/^outbox-flush-/);
    const seen = await page.evaluate(() => (globalThis as unknown as { seen: string[] }).seen);
    expect(seen[0]).toBe(`${jobId} QUEUED`);
    expect(seen.at(-1)).toBe(`${jobId} SUCCEEDED`);
    expect(
      await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded),
    ).toBe(true);
    const text = await shownText(row);
    expect(text).toContain("Send the waiting samples now");
    expect(text).toContain("Succeeded");
    // Queued, started and finished in the clinic's zone, named.
    expect(text.match(/\d+ \w+ \d{4}, \d\d:\d\d:\d\d CET/g)?.length).toBe(3);
    expect(text).toMatch(/Batches held\s+\d+/);
    const api = (await jobsOf(SIM)).find((j) => j.job_id === jobId);
    expect(api?.status).toBe("SUCCEEDED");

    // config.set: the client's rule, then the API's, next to the field; then a change taken.
    const rate = panel.getByLabel("Sample rate (Hz)");
    const start = panel.getByRole("button", { name: "Start: change settings" });
    await start.click();
    await panel.getByText("Enter a new sample rate, a new publish interval, or both.").waitFor();
    await rate.fill("75");
    await start.click();
    const rateError = panel.locator(`#jobs-${SIM}-sample_rate_hz-error`);
    await rateError.waitFor();
    expect(await rateError.textContent()).toBe(
      "The sample rate must be from 1 to 50 Hz, or 100, 200, 400 Hz.",
    );
    expect(await rate.getAttribute("aria-invalid")).toBe("true");
    expect(await rate.getAttribute("aria-describedby")).toContain(
      `jobs-${SIM}-sample_rate_hz-error`,
    );
    expect((await jobsOf(SIM)).length).toBe(1);
    await expectAccessible(page, "jobs, a refusal");

    await rate.fill("20");
    await panel.getByLabel("Publish interval (ms)").fill("1500");
    await start.click();
    await panel
      .getByTestId("jobs-announce")
      .getByText(/^Job queued: Change settings/)
      .waitFor();
    expect(await rate.getAttribute("aria-invalid")).toBeNull();
    const setRow = panel.locator("tr[data-job^='config-set-']");
    await until(
      async () => (await setRow.getAttribute("data-status").catch(() => null)) === "SUCCEEDED",
      "the settings job SUCCEEDED",
    );
    expect(await shownText(setRow)).toMatch(/Applied\s+sample rate, publish interval/);
    // Newest first.
    expect(await panel.locator("tr[data-job]").first().getAttribute("data-job")).toMatch(
      /^config-set-/,
    );
    expect(ui.stack.devices[0]?.agent.stats().publishIntervalMs).toBe(1500);
    await expectAccessible(page, "jobs, two succeeded");
    await panel.scrollIntoViewIfNeeded();
    await panel.screenshot({ path: join(shots, "device-jobs.png") });

    // A tablet held upright: one column, the table scrolls inside its box, nothing wider.
    await page.setViewportSize({ width: 768, height: 1024 });
    const overflow = await page.evaluate(() => {
      const d = (
        globalThis as unknown as {
          document: { documentElement: { scrollWidth: number; clientWidth: number } };
        }
      ).document;
      return d.documentElement.scrollWidth - d.documentElement.clientWidth;
    });
    expect(overflow).toBeLessThanOrEqual(0);
    await expectAccessible(page, "jobs on a tablet");
    await context.close();
  }, 150_000);

  it("a viewer sees the list and no form; the API refuses the viewer's forged job", async () => {
    const { context, page } = await newPage();
    await signIn(page, "viewer");
    await page.goto(`${ui.stack.consoleUrl}devices/${SIM}`);
    const panel = page.getByTestId("jobs");
    await panel.getByTestId("jobs-table").waitFor();
    expect(await panel.locator("tr[data-job]").count()).toBeGreaterThanOrEqual(1);
    expect(await panel.getByTestId("job-forms").count()).toBe(0);
    expect(await panel.getByRole("button").count()).toBe(0);
    await expectAccessible(page, "jobs, viewer");
    const forged = await page.evaluate(async (device) => {
      const storage = (
        globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }
      ).sessionStorage;
      const { token } = JSON.parse(storage.getItem("medusa.session") ?? "{}");
      const r = await fetch(`/api/devices/${device}/jobs`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ type: "agent.restart" }),
      });
      return r.status;
    }, SIM);
    expect(forged).toBe(403);
    await context.close();
  }, 90_000);
});
