import { join } from "node:path";
import type { Locator, Page, Response } from "playwright-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CLINIC_ZONE,
  consoleInBrowser,
  expectAccessible,
  screenshotDir,
  until,
} from "./browser.js";

// The fleet pages (Devices, Alerts) and a device's configuration, in Chromium against the
// local stack. The clinic is in Berlin; the browser runs in New York.
// A worn device that sends nothing has a data-gap alert after this long.
const GAP_MS = 3_000;

const ui = consoleInBrowser("fleet", { gapMs: GAP_MS });
const { newPage, signIn, call } = ui;
const shots = screenshotDir();
let SIM: string;

beforeAll(() => {
  SIM = ui.stack.deviceIds[0] as string;
});

/** A part of the page's text as laid out (the cells of a row apart, as a reader meets them). */
const shownText = (l: Locator) =>
  // biome-ignore lint/performance/useDomNodeTextContent: the layout's text is what is checked
  l.innerText();

/** The device IDs the fleet table shows, in order. */
const shownDevices = (page: Page) =>
  page
    .getByTestId("devices-table")
    .locator("tbody tr")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-device")));

const rowText = (page: Page, device: string) =>
  shownText(page.locator(`[data-testid="devices-table"] tr[data-device="${device}"]`));

/** Presses Tab until the focused element is `target` (at most 60 times): the keyboard's way there. */
const tabTo = async (page: Page, target: ReturnType<Page["locator"]>) => {
  for (let i = 0; i < 60; i++) {
    if (await target.evaluate((el) => el === el.ownerDocument.activeElement)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error("not reached with the Tab key");
};

describe("the fleet pages in Chromium against the local stack", () => {
  it("Devices: the fleet in one read, filters and search, live updates without a reload, keyboard only", async () => {
    // ghost-1 is worn and never sends (an alert after the gap); ghost-2 was worn and is free again.
    expect(
      (
        await call("POST", "/api/devices/assign", {
          device_id: "ghost-1",
          patient_id: "P-200",
          patient_name: "Ada Lovelace",
        })
      ).status,
    ).toBe(201);
    expect(
      (await call("POST", "/api/devices/assign", { device_id: "ghost-2", patient_id: "P-201" }))
        .status,
    ).toBe(201);
    expect(
      (
        await call("POST", "/api/devices/unassign", {
          device_id: "ghost-2",
          patient_id: "P-201",
          reason: "completed",
        })
      ).status,
    ).toBe(200);
    await until(async () => {
      const list = (await call("GET", "/api/devices")).json.devices as Array<{
        device_id: string;
        connected: boolean;
        last_sample: number | null;
        open_alerts: unknown[];
      }>;
      // The stack saves a device's sample time in its row up to 5 s after the samples.
      return (
        list.length === 3 &&
        list.some((d) => d.device_id === SIM && d.connected && d.last_sample !== null) &&
        list.some((d) => d.device_id === "ghost-1" && d.open_alerts.length > 0)
      );
    }, "the fleet: the simulated device online with its last sample, ghost-1's alert");

    const { context, page } = await newPage();
    const fleetReads: Array<{ url: string; status: number }> = [];
    const perDevice: Array<string> = [];
    page.on("response", (r: Response) => {
      const url = new URL(r.url());
      if (url.pathname === "/api/devices") fleetReads.push({ url: url.search, status: r.status() });
      if (/^\/api\/devices\/[^/]+\/patient$/.test(url.pathname)) perDevice.push(url.pathname);
    });
    await signIn(page, "clinician");
    await page.getByTestId("devices-table").waitFor();
    expect(await shownDevices(page)).toEqual(["ghost-1", "ghost-2", SIM]);
    // One paginated read for the whole fleet.
    expect(fleetReads[0]?.url).toBe("?limit=500");
    expect(perDevice).toEqual([]);
    const ghost1 = await rowText(page, "ghost-1");
    expect(ghost1).toContain("P-200 (Ada Lovelace)");
    expect(ghost1).toMatch(/CET/);
    expect(ghost1).toContain("Never seen");
    expect(ghost1).toMatch(/1 open alert: no data since .*CET/);
    const sim = await rowText(page, SIM);
    expect(sim).toContain("Available");
    expect(sim).toContain("Online");
    expect(sim).toMatch(/\d\d:\d\d:\d\d CET \(\d+ s ago\)/);
    expect(await rowText(page, "ghost-2")).toContain("Available");
    expect(await page.getByTestId("fleet-count").textContent()).toBe("3 of 3 devices shown");
    await expectAccessible(page, "devices");
    await page.screenshot({ path: join(shots, "fleet.png"), fullPage: true });

    // Filters: the API's status= filter; the address keeps it.
    const filter = async (label: string, expected: Array<string>) => {
      await page.getByRole("radio", { name: label }).check();
      await until(
        async () =>
          JSON.stringify(await shownDevices(page).catch(() => [])) === JSON.stringify(expected),
        `${label}: ${expected}`,
        10_000,
      );
    };
    await filter("Offline", ["ghost-1", "ghost-2"]);
    expect(page.url()).toContain("/?status=offline");
    expect(fleetReads.some((r) => r.url === "?status=offline&limit=500")).toBe(true);
    // Nothing offline changes (the simulated device's samples change the whole fleet's page
    // every second, not this one): the next reads are answered 304, with no body.
    await until(
      async () => fleetReads.some((r) => r.url === "?status=offline&limit=500" && r.status === 304),
      "a 304 while nothing changes",
      15_000,
    );
    await filter("Available", ["ghost-2", SIM]);
    await filter("Assigned", ["ghost-1"]);
    await filter("With an open alert", ["ghost-1"]);
    await filter("All", ["ghost-1", "ghost-2", SIM]);
    // Search: device ID, patient ID or name, any case.
    await page.getByLabel("Search devices and patients").fill("lovelace");
    await until(async () => JSON.stringify(await shownDevices(page)) === '["ghost-1"]', "search");
    expect(await page.getByTestId("fleet-count").textContent()).toBe("1 of 3 devices shown");
    await page.getByLabel("Search devices and patients").fill("");

    // Live: a change elsewhere shows without a reload.
    await page.evaluate(() => {
      (globalThis as unknown as { notReloaded: boolean }).notReloaded = true;
    });

    expect(
      (
        await call("POST", "/api/devices/assign", {
          device_id: SIM,
          patient_id: "P-300",
          patient_name: "Grace Hopper",
        })
      ).status,
    ).toBe(201);
    await page
      .locator(`tr[data-device="${SIM}"]`)
      .getByText("P-300 (Grace Hopper)")
      .waitFor({ timeout: 15_000 });
    expect(
      await page.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded),
    ).toBe(true);

    // Keyboard only: to the filters, arrows to "Offline", on to a device, Enter opens it.
    await page.getByRole("heading", { name: "Devices", level: 1 }).focus();
    await tabTo(page, page.getByRole("radio", { name: "All" }));
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    await page.keyboard.press("ArrowRight");
    expect(await page.getByRole("radio", { name: "Offline" }).isChecked()).toBe(true);
    await until(
      async () =>
        JSON.stringify(await shownDevices(page).catch(() => [])) === '["ghost-1","ghost-2"]',
      "offline by keyboard",
      10_000,
    );
    await tabTo(page, page.getByRole("link", { name: "ghost-2" }));
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Device ghost-2" }).waitFor();
    // Focus moved to the page's heading for screen readers.
    expect(
      await page.evaluate(
        () =>
          (globalThis as unknown as { document: { activeElement: { tagName: string } } }).document
            .activeElement.tagName,
      ),
    ).toBe("H1");
    await context.close();
  }, 120_000);

  it("Alerts: a gap alert appears live, a clinician acknowledges it, it clears when the assignment ends; a viewer has no button", async () => {
    const { context, page } = await newPage();
    await signIn(page, "clinician");
    await page.getByRole("link", { name: "Alerts" }).click();
    await page.getByRole("heading", { name: "Alerts", level: 1 }).waitFor();
    await page.getByTestId("open-alerts").waitFor();

    // ghost-3 is put on a patient while the page is open; it sends nothing: its alert appears.
    expect(
      (await call("POST", "/api/devices/assign", { device_id: "ghost-3", patient_id: "P-400" }))
        .status,
    ).toBe(201);
    const row = page.getByTestId("open-alerts").locator("tr", { hasText: "ghost-3" });
    await row.waitFor({ timeout: 20_000 });
    expect(await shownText(row)).toMatch(
      /P-400\s+\d+ \w+ 2\d{3}, \d\d:\d\d:\d\d CET \(\d+ s ago\)/,
    );
    expect(await shownText(row)).toContain("Not yet");
    await expectAccessible(page, "alerts");

    // Acknowledge, with the keyboard: the button names the device it is for.
    const button = page.getByRole("button", {
      name: "Acknowledge the alert of device ghost-3 (patient P-400)",
    });
    await button.focus();
    await page.keyboard.press("Enter");
    await row.getByText("by dev-clinician@medusa.local").waitFor();
    expect(await page.getByRole("status").first().textContent()).toContain(
      "ghost-3 is acknowledged",
    );
    const open = (await call("GET", "/api/alerts")).json.alerts as Array<Record<string, unknown>>;
    expect(open.find((a) => a.device_id === "ghost-3")).toMatchObject({
      acknowledged_by: "dev-clinician@medusa.local",
      closed_at: null,
    });
    await page.screenshot({ path: join(shots, "alerts.png"), fullPage: true });

    // The assignment ends: the alert closes, and the page lists it as cleared, without a reload.
    expect(
      (
        await call("POST", "/api/devices/unassign", {
          device_id: "ghost-3",
          patient_id: "P-400",
          reason: "completed",
        })
      ).status,
    ).toBe(200);
    await ui.stack.fleet.detectNow();
    const cleared = page.getByTestId("cleared-alerts").locator("tr", { hasText: "ghost-3" });
    await cleared.waitFor({ timeout: 20_000 });
    expect(await shownText(cleared)).toContain("Assignment ended");
    expect(await row.count()).toBe(0);
    await expectAccessible(page, "alerts, one cleared");
    await context.close();

    // A viewer sees the alerts and no button; the API refuses the viewer's acknowledge.
    const viewer = await newPage();
    await signIn(viewer.page, "viewer");
    await viewer.page.getByRole("link", { name: "Alerts" }).click();
    await viewer.page.getByTestId("open-alerts").locator("tr", { hasText: "ghost-1" }).waitFor();
    expect(await viewer.page.getByRole("button", { name: /Acknowledge/ }).count()).toBe(0);
    const forged = await viewer.page.evaluate(
      async (id) => {
        const storage = (
          globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }
        ).sessionStorage;
        const { token } = JSON.parse(storage.getItem("medusa.session") ?? "{}");
        const r = await fetch(`/api/alerts/${id}/acknowledge`, {
          method: "POST",
          headers: { authorization: `Bearer ${token}` },
        });
        return r.status;
      },
      (
        (await call("GET", "/api/alerts")).json.alerts as Array<{
          alert_id: string;
          device_id: string;
        }>
      ).find((a) => a.device_id === "ghost-1")?.alert_id,
    );
    expect(forged).toBe(403);
    await viewer.context.close();
  }, 120_000);

  it("Configuration: desired beside reported, a refusal next to its field, a change the device takes, live mode with its end", async () => {
    await until(
      async () => (await call("GET", `/api/devices/${SIM}/configuration`)).status === 200,
      "the device's first report",
    );
    const { context, page } = await newPage();
    await signIn(page, "clinician");
    await page.goto(`${ui.stack.consoleUrl}devices/${SIM}`);
    const panel = page.getByTestId("configuration");
    await panel.getByTestId("configuration-table").waitFor();
    expect(await shownText(panel.getByTestId("device-figures"))).toMatch(
      /Outbox\s+\d+ batches waiting/,
    );

    // Refused by the API's rule, said next to the field.
    const rate = panel.getByLabel("Sample rate (Hz)");
    await rate.fill("75");
    await panel.getByRole("button", { name: "Save settings" }).click();
    const rateError = panel.locator(`#config-${SIM}-sample_rate_hz-error`);
    await rateError.waitFor();
    expect(await rateError.textContent()).toBe(
      "The sample rate must be from 1 to 50 Hz, or 100, 200, 400 Hz.",
    );
    expect(await rate.getAttribute("aria-invalid")).toBe("true");
    expect(await rate.getAttribute("aria-describedby")).toContain(
      `config-${SIM}-sample_rate_hz-error`,
    );
    await panel.getByLabel("Publish interval (ms)").fill("soon");
    await panel.getByRole("button", { name: "Save settings" }).click();
    await panel.getByText("The interval is a whole number of milliseconds.").waitFor();
    await expectAccessible(page, "configuration, refused");

    // Set: the device takes it and reports it.
    await rate.fill("25");
    await panel.getByLabel("Publish interval (ms)").fill("2000");
    await panel.getByRole("button", { name: "Save settings" }).click();
    await page.getByText("Settings stored.").waitFor();
    expect(await rate.getAttribute("aria-invalid")).toBeNull();
    const table = panel.getByTestId("configuration-table");
    await until(
      async () => {
        const text = await shownText(table);
        return (
          /Sample rate\s+25 Hz\s+25 Hz\s+Taken/.test(text) &&
          /Publish interval\s+2 s\s+2 s\s+Taken/.test(text)
        );
      },
      "the device runs with 25 Hz and 2 s",
      30_000,
    );

    // Live mode, for 2 minutes: its end shown in the clinic's time.
    await panel.getByLabel("For how long (minutes)").fill("90");
    await panel.getByRole("button", { name: "Start live mode" }).click();
    await panel.getByText("Live mode lasts 1 to 60 minutes.").waitFor();
    await panel.getByLabel("For how long (minutes)").fill("2");
    const before = Date.now();
    await panel.getByRole("button", { name: "Start live mode" }).click();
    await panel
      .getByTestId("live-mode")
      .getByText(/^Live mode until/)
      .waitFor();
    const liveText = (await shownText(panel.getByTestId("live-mode"))) ?? "";
    expect(liveText).toMatch(/until \d+ \w+ \d{4}, \d\d:\d\d:\d\d CET: a batch every 1 s/);
    const desired = (await call("GET", `/api/devices/${SIM}/configuration`)).json.desired as {
      publish: { live_until: number };
    };
    expect(desired.publish.live_until).toBeGreaterThanOrEqual(before + 120_000 - 1_000);
    const shown = new Intl.DateTimeFormat("en-GB", {
      timeZone: CLINIC_ZONE,
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      hourCycle: "h23",
    }).format(desired.publish.live_until);
    expect(liveText).toContain(shown);
    await until(
      async () =>
        /the device publishes every 1 s now/.test(await shownText(panel.getByTestId("live-mode"))),
      "the device in live mode",
      30_000,
    );
    await expectAccessible(page, "configuration, live");
    await page.screenshot({ path: join(shots, "device-configuration.png"), fullPage: true });
    await panel.getByRole("button", { name: "End live mode now" }).click();
    await panel
      .getByTestId("live-mode")
      .getByText(/^Live mode is off/)
      .waitFor();
    await context.close();

    // A viewer reads the configuration and has no form.
    const viewer = await newPage();
    await signIn(viewer.page, "viewer");
    await viewer.page.goto(`${ui.stack.consoleUrl}devices/${SIM}`);
    await viewer.page.getByTestId("configuration-table").waitFor();
    expect(
      await viewer.page.getByRole("button", { name: /Save settings|Start live mode/ }).count(),
    ).toBe(0);
    await viewer.context.close();
  }, 150_000);
});
