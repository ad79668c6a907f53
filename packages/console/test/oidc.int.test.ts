import { rmSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { storesLayer, systemClock } from "@medusa/adapters";
import { type LocalStores, startLocalStores } from "@medusa/adapters/testing";
import { createApp, jwtAuth, withConsole } from "@medusa/api";
import { Layer } from "effect";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accessibilityViolations, buildConsole, launchChromium, screenshotDir } from "./browser.js";
import { type OpenIdProvider, startOpenIdProvider } from "./openid-provider.js";

// The production build against the real API, which checks the provider's ID tokens as it
// checks Cognito's in AWS: issuer, audience (the app client), signature from the JWKS.
const CLIENT_ID = "medusa-console-test";
const NURSE = "charge.nurse@clinic.example";
const VIEWER = "ward.viewer@clinic.example";
const DEVICE = "medusa-oidc-01";

let stores: LocalStores;
let op: OpenIdProvider;
let server: Server;
let consoleUrl: string;
let consoleDir: string;
let browser: Browser;
/** Seconds added to the API's clock: a test moves it past the ID token's expiry. */
let skewS = 0;

beforeAll(async () => {
  let handler: (r: Request) => Response | Promise<Response> = () =>
    new Response(null, { status: 503 });
  [consoleDir, stores, browser] = await Promise.all([
    buildConsole("production"),
    startLocalStores({ prefix: "oidc-" }),
    launchChromium(),
  ]);
  server = await new Promise<Server>((ready) => {
    const s = serve({ fetch: (r) => handler(r), port: 0, hostname: "127.0.0.1" }, () =>
      ready(s as Server),
    ) as Server;
  });
  consoleUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  op = await startOpenIdProvider({
    clientId: CLIENT_ID,
    redirectUri: `${consoleUrl}/sign-in/callback`,
    logoutUri: `${consoleUrl}/sign-in`,
    users: { [NURSE]: { groups: ["clinician"] }, [VIEWER]: { groups: ["viewer"] } },
  });
  const app = createApp({
    layer: Layer.merge(storesLayer(stores.stores), systemClock),
    authenticate: jwtAuth({
      jwksUrl: op.jwksUrl,
      issuer: op.issuer,
      audience: CLIENT_ID,
      now: () => Date.now() / 1000 + skewS,
    }),
    log: () => {},
  });
  handler = withConsole(app, {
    dir: consoleDir,
    config: {
      timeZone: "Europe/Berlin",
      oidc: {
        issuer: op.issuer,
        clientId: CLIENT_ID,
        redirectUri: `${consoleUrl}/sign-in/callback`,
        logoutEndpoint: op.logoutEndpoint,
        logoutUri: `${consoleUrl}/sign-in`,
      },
    },
  }).fetch;
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await op?.stop();
  await stores?.stop();
  if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
});

const newPage = async (): Promise<{ context: BrowserContext; page: Page }> => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  // The provider's development login page imports a web font: nothing leaves this machine.
  await context.route(/^https:\/\//, (route) => route.abort());
  const page = await context.newPage();
  page.setDefaultTimeout(20_000);
  return { context, page };
};

/** At the provider's login page: its development form takes any password. */
const logInAtProvider = async (page: Page, who: string) => {
  await page.waitForURL((u) => u.href.startsWith(op.issuer));
  await page.locator('input[name="login"]').fill(who);
  await page.locator('input[name="password"]').fill("any");
  await page.getByRole("button", { name: "Sign-in" }).click();
};

const signIn = async (page: Page, who: string) => {
  await page.goto(consoleUrl);
  await page.getByRole("button", { name: "Sign in with your clinic account" }).click();
  await logInAtProvider(page, who);
  await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
};

const openDevice = async (page: Page, id: string) => {
  await page.getByLabel("Device ID").fill(id);
  await page.getByRole("button", { name: "Open device" }).click();
  await page.getByRole("heading", { name: `Device ${id}` }).waitFor();
};

const tokenOf = (page: Page) =>
  page.evaluate<string>(`JSON.parse(sessionStorage.getItem("medusa.session") ?? "{}").token`);

describe("sign-in with OpenID Connect (authorization code, PKCE) in Chromium", () => {
  it("a clinician signs in with PKCE and assigns a device; the API takes the ID token as theirs; sign-out ends the provider's session", async () => {
    const { context, page } = await newPage();
    await page.goto(consoleUrl);
    await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
    const violations = await accessibilityViolations(page);
    expect(violations, JSON.stringify(violations, null, 1)).toEqual([]);
    expect(await page.getByText("Development sign-in").count()).toBe(0);
    await page.screenshot({ path: join(screenshotDir(), "sign-in-oidc.png") });

    await page.getByRole("button", { name: "Sign in with your clinic account" }).click();
    await page.waitForURL((u) => u.href.startsWith(op.issuer));
    const authorize = new URL(page.url());
    await logInAtProvider(page, NURSE);
    await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
    // The authorization request the console sent: code, PKCE S256, state and nonce.
    const auth = op.requests.find((r) => r.startsWith("/auth?")) as string;
    const params = new URLSearchParams(auth.slice(auth.indexOf("?")));
    expect(params.get("response_type")).toBe("code");
    expect(params.get("code_challenge_method")).toBe("S256");
    expect(params.get("code_challenge")).toMatch(/^[\w-]{43}$/);
    expect(params.get("state")).toMatch(/^[\w-]{20,}$/);
    expect(params.get("nonce")).toMatch(/^[\w-]{20,}$/);
    expect(authorize.origin).toBe(op.issuer);
    // The code and state are gone from the address bar; the pending request from storage.
    expect(new URL(page.url()).search).toBe("");
    expect(
      await page.evaluate<string | null>(`sessionStorage.getItem("medusa.oidc.pending")`),
    ).toBeNull();
    expect(await page.locator(".who").textContent()).toContain(`${NURSE} (clinician)`);

    await openDevice(page, DEVICE);
    const form = page.locator(`#assign-${DEVICE}`);
    await form.getByLabel(/^Patient ID/).fill("P-OIDC-1");
    await form.getByRole("button", { name: "Assign device" }).click();
    await page.getByTestId("current-patient").getByText("P-OIDC-1").waitFor();
    // Recorded as done by the signed-in clinician, from the ID token's e-mail.
    const token = await tokenOf(page);
    const trail = (await (
      await fetch(`${consoleUrl}/api/devices/${DEVICE}/assignments`, {
        headers: { authorization: `Bearer ${token}` },
      })
    ).json()) as { assignments: Array<{ assigned_by: string; patient_id: string }> };
    expect(trail.assignments.map((a) => [a.patient_id, a.assigned_by])).toEqual([
      ["P-OIDC-1", NURSE],
    ]);

    // Sign-out: through the provider's /logout and back to sign-in, its session ended: the
    // next sign-in asks for the login again.
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${consoleUrl}/sign-in`);
    await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
    expect(op.requests.some((r) => r.startsWith("/logout?"))).toBe(true);
    expect(
      await page.evaluate<string | null>(`sessionStorage.getItem("medusa.session")`),
    ).toBeNull();
    await page.getByRole("button", { name: "Sign in with your clinic account" }).click();
    await page.locator('input[name="login"]').waitFor();
    await context.close();
  });

  it("a viewer sees no command, and the API refuses their command", async () => {
    const { context, page } = await newPage();
    await signIn(page, VIEWER);
    expect(await page.locator(".who").textContent()).toContain(`${VIEWER} (viewer)`);
    await openDevice(page, DEVICE);
    await page
      .getByRole("heading", { name: /history/i })
      .first()
      .waitFor();
    expect(
      await page.getByRole("button", { name: /Assign device|Hand over|End|returned/ }).count(),
    ).toBe(0);
    const r = await fetch(`${consoleUrl}/api/devices/unassign`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${await tokenOf(page)}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ device_id: DEVICE, patient_id: "P-OIDC-1" }),
    });
    expect(r.status).toBe(403);
    expect(((await r.json()) as { type: string }).type).toMatch(/forbidden/);
    await context.close();
  });

  it("an answer whose state is not the one this tab sent is refused, and no code is exchanged", async () => {
    const { context, page } = await newPage();
    await page.goto(consoleUrl);
    await page.getByRole("button", { name: "Sign in with your clinic account" }).click();
    await page.waitForURL((u) => u.href.startsWith(op.issuer));
    const tokenRequests = op.requests.filter((r) => r.startsWith("/token")).length;
    // A forged answer (as a cross-site request would bring) instead of the provider's.
    await page.goto(
      `${consoleUrl}/sign-in/callback?code=forged-code&state=forged-state&iss=${encodeURIComponent(op.issuer)}`,
    );
    await page.getByText("does not match the request this tab sent").waitFor();
    expect(
      await page.evaluate<string | null>(`sessionStorage.getItem("medusa.session")`),
    ).toBeNull();
    expect(op.requests.filter((r) => r.startsWith("/token")).length).toBe(tokenRequests);
    expect(new URL(page.url()).search).toBe("");
    await context.close();
  });

  it("an expired session returns to sign-in; after signing in again the page and what was typed are back", async () => {
    const { context, page } = await newPage();
    await signIn(page, NURSE);
    await openDevice(page, "medusa-oidc-02");
    const form = page.locator("#assign-medusa-oidc-02");
    await form.getByLabel(/^Patient ID/).fill("P-DRAFT-7");
    await form.getByLabel(/^Notes/).fill("typed before the session ended");
    // The API's clock past the ID token's expiry (and the API's tolerance): it answers 401.
    skewS = 13 * 3_600;
    try {
      await form.getByRole("button", { name: "Assign device" }).click();
      await page.getByText("Your session has ended").waitFor();
      await page.getByRole("heading", { name: "Sign in", level: 1 }).waitFor();
    } finally {
      skewS = 0;
    }
    // The provider's session is still open: no password asked, straight back to the device.
    await page.getByRole("button", { name: "Sign in with your clinic account" }).click();
    await page.getByRole("heading", { name: "Device medusa-oidc-02" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/devices/medusa-oidc-02");
    const again = page.locator("#assign-medusa-oidc-02");
    expect(await again.getByLabel(/^Patient ID/).inputValue()).toBe("P-DRAFT-7");
    expect(await again.getByLabel(/^Notes/).inputValue()).toBe("typed before the session ended");
    await context.close();
  });
});
