import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Page, Request } from "playwright-core";
import { describe, expect, it } from "vitest";
import { buildConsole, consoleInBrowser, expectAccessible, screenshotDir } from "./browser.js";

// The clinic is in Berlin; the browser runs in New York: every time shown is Berlin's.
const DEVICE = "medusa-sim-01";

const ui = consoleInBrowser("stack");
const { signIn } = ui;
const newPage = () => ui.newPage({ timeoutMs: 15_000 });
const shots = screenshotDir();

const openDevice = async (page: Page, id: string) => {
  await page.getByRole("link", { name: "Devices" }).click();
  await page.getByLabel("Device ID").fill(id);
  await page.getByRole("button", { name: "Open device" }).click();
  await page.getByRole("heading", { name: `Device ${id}` }).waitFor();
};

const trail = async () => {
  const r = await fetch(`${ui.stack.apiUrl}/api/devices/${DEVICE}/assignments`, {
    headers: { authorization: `Bearer ${ui.stack.token}` },
  });
  return ((await r.json()) as { assignments: Array<Record<string, unknown>> }).assignments;
};

/** The rows of a table as the user reads them: each cell's text. */
const rowsOf = (page: Page, testId: string) =>
  page
    .getByTestId(testId)
    .locator("tbody tr")
    .evaluateAll((rows) =>
      rows.map((r) =>
        Array.from(
          r.querySelectorAll("th, td"),
          (c) => (c as { textContent: string | null }).textContent?.trim() ?? "",
        ),
      ),
    );

describe("the console in Chromium against the local stack", () => {
  it("a clinician assigns a simulated device, sees its samples in the patient's chart, hands it over; the audit trail is right", async () => {
    const { context, page } = await newPage();
    await page.goto(ui.stack.consoleUrl as string);
    await page.getByRole("heading", { name: "Development sign-in" }).waitFor();
    expect(await page.locator(".zone").textContent()).toContain("Europe/Berlin");
    await expectAccessible(page, "sign-in");
    await page.screenshot({ path: join(shots, "sign-in.png") });

    await signIn(page, "clinician");
    await expectAccessible(page, "devices");
    await openDevice(page, DEVICE);
    await page.getByTestId("current-patient").getByText("Available").waitFor();
    await expectAccessible(page, "device, available");

    // An API refusal in plain words next to the field it concerns: a time in the future.
    const form = page.locator(`#assign-${DEVICE}`);
    await form.getByLabel(/^Patient ID/).fill("P-001");
    await form.getByLabel(/^Patient name/).fill("Ada Lovelace");
    await form.getByLabel(/^Notes/).fill("left wrist");
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 16);
    await form.getByLabel(/^When it was put on/).fill(tomorrow);
    await form.getByRole("button", { name: "Assign device" }).click();
    const timeError = form.locator(`#assign-${DEVICE}-at-error`);
    await timeError.waitFor();
    expect(await timeError.textContent()).toContain("This time is in the future");
    expect(await form.getByLabel(/^When it was put on/).getAttribute("aria-invalid")).toBe("true");
    expect(await form.getByLabel(/^When it was put on/).getAttribute("aria-describedby")).toContain(
      `assign-${DEVICE}-at-error`,
    );
    await expectAccessible(page, "device, refusal shown");
    await page.screenshot({ path: join(shots, "refusal.png"), fullPage: true });
    expect(await trail()).toEqual([]);

    // The first assign reaches the API but its answer is lost; then a double click: the
    // same Idempotency-Key each time, so one assignment.
    await form.getByLabel(/^When it was put on/).fill("");
    const keys: Array<string | undefined> = [];
    const onRequest = (r: Request) => {
      if (r.url().endsWith("/api/devices/assign")) keys.push(r.headers()["idempotency-key"]);
    };
    page.on("request", onRequest);
    let dropped = false;
    await page.route("**/api/devices/assign", async (route) => {
      if (dropped) return route.continue();
      dropped = true;
      await route.fetch();
      await route.abort("connectionreset");
    });
    await form.getByRole("button", { name: "Assign device" }).click();
    await form.getByText("The server did not answer").waitFor();
    expect(await trail()).toHaveLength(1);
    await form.getByRole("button", { name: "Assign device" }).dblclick();
    await page.getByTestId("current-patient").getByText("Worn by").waitFor();
    page.off("request", onRequest);
    expect(keys.length).toBeGreaterThanOrEqual(2);
    expect(new Set(keys).size).toBe(1);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    const once = await trail();
    expect(once).toHaveLength(1);
    expect(once[0]).toMatchObject({
      patient_id: "P-001",
      patient_name: "Ada Lovelace",
      notes: "left wrist",
      status: "active",
      assigned_by: "dev-clinician@medusa.local",
    });
    expect(await page.getByRole("status").textContent()).toContain("Assigned to patient P-001");
    expect(await page.getByTestId("current-patient").textContent()).toMatch(/CET/);
    await expectAccessible(page, "device, assigned");

    // The patient's chart: the device publishes a batch a second.
    await page.getByTestId("current-patient").getByRole("link", { name: /P-001/ }).click();
    await page.getByRole("heading", { name: "Patient P-001 (Ada Lovelace)" }).waitFor();
    const summary = page.getByTestId("chart-summary");
    // The last hour: the raw samples.
    await page.getByRole("button", { name: "Hour", exact: true }).click();
    const deadline = Date.now() + 30_000;
    for (;;) {
      await page.locator('[data-testid="chart-summary"][aria-busy="false"]').waitFor();
      if (/samples from medusa-sim-01/.test((await summary.textContent()) ?? "")) break;
      const alert = await page.getByRole("alert").allTextContents();
      if (Date.now() > deadline)
        throw new Error(`no samples: ${await summary.textContent()} ${alert}`);
      await page.waitForTimeout(1_000);
      await page.getByRole("button", { name: "Refresh" }).click();
    }
    await page.getByTestId("chart").locator("canvas").waitFor();
    expect(await rowsOf(page, "patient-assignments")).toEqual([
      [DEVICE, expect.stringMatching(/CET$/), "now", "dev-clinician@medusa.local", "Active"],
    ]);
    await expectAccessible(page, "patient");
    await page.screenshot({ path: join(shots, "patient.png"), fullPage: true });

    // Hand over to the next patient, in one step.
    await page.getByRole("link", { name: DEVICE }).first().click();
    await page.getByRole("heading", { name: `Device ${DEVICE}` }).waitFor();
    const handover = page.locator(`#handover-${DEVICE}`);
    await handover.getByLabel(/^Patient ID/).fill("P-002");
    await handover.getByLabel(/^Patient name/).fill("Grace Hopper");
    await handover.getByRole("button", { name: "Hand over" }).click();
    await page.getByTestId("current-patient").getByText("P-002").waitFor();
    await page.getByTestId("audit-trail").locator("tbody tr").nth(1).waitFor();
    const rows = await rowsOf(page, "audit-trail");
    expect(rows).toHaveLength(2);
    expect(rows[0]).toEqual([
      "P-002 Grace Hopper",
      expect.stringMatching(/CET$/),
      "—",
      "dev-clinician@medusa.local",
      "—",
      "Active",
      "",
    ]);
    expect(rows[1]).toEqual([
      "P-001 Ada Lovelace",
      expect.stringMatching(/CET$/),
      expect.stringMatching(/CET$/),
      "dev-clinician@medusa.local",
      "dev-clinician@medusa.local",
      "Completed",
      "left wrist",
    ]);
    // The same as the API's audit trail, newest first.
    const api = await trail();
    expect(api.map((a) => [a.patient_id, a.status])).toEqual([
      ["P-002", "active"],
      ["P-001", "completed"],
    ]);
    expect(rows[1]?.[2]).toBe(rows[0]?.[1]);
    await expectAccessible(page, "device, handed over");
    await page.screenshot({ path: join(shots, "device.png"), fullPage: true });

    // Both patients' timelines.
    await page.getByTestId("audit-trail").getByRole("link", { name: "P-001" }).click();
    await page.getByRole("heading", { name: /^Patient P-001/ }).waitFor();
    await page.getByTestId("patient-assignments").waitFor();
    expect((await rowsOf(page, "patient-assignments"))[0]?.slice(2, 5)).toEqual([
      expect.stringMatching(/CET$/),
      "dev-clinician@medusa.local",
      "Completed",
    ]);
    await page.goBack();
    await page.getByTestId("audit-trail").getByRole("link", { name: "P-002" }).click();
    await page.getByRole("heading", { name: "Patient P-002 (Grace Hopper)" }).waitFor();
    await page.getByTestId("patient-assignments").waitFor();
    expect((await rowsOf(page, "patient-assignments"))[0]?.slice(2, 5)).toEqual([
      "now",
      "dev-clinician@medusa.local",
      "Active",
    ]);

    // The devices list shows the device opened here, with its wearer.
    await page.getByRole("link", { name: "Devices" }).click();
    await page.getByTestId("devices-table").getByText("P-002 (Grace Hopper)").waitFor();
    await page.screenshot({ path: join(shots, "devices.png"), fullPage: true });

    // A small screen (a tablet held upright): the same page, one column.
    await page.setViewportSize({ width: 768, height: 1024 });
    await openDevice(page, DEVICE);
    await expectAccessible(page, "device on a tablet");
    await page.screenshot({ path: join(shots, "device-tablet.png"), fullPage: true });

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Development sign-in" }).waitFor();
    await context.close();
  });

  it("a viewer sees no command buttons, and the API refuses a forged command", async () => {
    const { context, page } = await newPage();
    await signIn(page, "viewer");
    await openDevice(page, DEVICE);
    await page.getByTestId("read-only").waitFor();
    await page.getByTestId("audit-trail").waitFor();
    expect(await page.locator("form.command").count()).toBe(0);
    for (const name of ["Assign device", "Hand over", "End assignment", "Return device"])
      expect(await page.getByRole("button", { name }).count()).toBe(0);
    expect(await page.locator(".who").textContent()).toContain("dev-viewer@medusa.local");
    await expectAccessible(page, "device as viewer");
    await page.screenshot({ path: join(shots, "viewer.png"), fullPage: true });

    // The viewer's own token, sent by hand: refused, and nothing changes.
    const before = await trail();
    const forged = await page.evaluate(async (device) => {
      const storage = (
        globalThis as unknown as { sessionStorage: { getItem(k: string): string | null } }
      ).sessionStorage;
      const { token } = JSON.parse(storage.getItem("medusa.session") ?? "{}");
      const r = await fetch("/api/devices/unassign", {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ device_id: device, patient_id: "P-002" }),
      });
      return { status: r.status, body: (await r.json()) as { type: string } };
    }, DEVICE);
    expect(forged.status).toBe(403);
    expect(forged.body.type).toMatch(/forbidden$/);
    expect(await trail()).toEqual(before);
    await context.close();
  });

  it("the initial load is small, and the production build has no development sign-in", async () => {
    const files = readdirSync(join(ui.consoleDir, "assets"));
    const index = readFileSync(join(ui.consoleDir, "index.html"), "utf8");
    // What the first page loads: index.html's own script and style (the chart loads on the patient page).
    const initial = files.filter((f) => index.includes(f));
    const bytes = initial.reduce((n, f) => n + statSync(join(ui.consoleDir, "assets", f)).size, 0);
    expect(initial.some((f) => f.endsWith(".js"))).toBe(true);
    expect(bytes).toBeLessThan(250 * 1024);

    const production = await buildConsole("production");
    try {
      const text = readdirSync(join(production, "assets"))
        .map((f) => readFileSync(join(production, "assets", f), "utf8"))
        .join("\n");
      expect(text).not.toContain("Development sign-in");
      expect(text).not.toContain("/dev/sign-in");
    } finally {
      rmSync(production, { recursive: true, force: true });
    }
  });
});
