import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Stack, type StackOptions, startStack } from "@medusa/stack";
import axe from "axe-core";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, expect } from "vitest";

/** Debian's Chromium (`npm test` installs it when missing). */
export const CHROMIUM = "/usr/bin/chromium";

/**
 * Chromium headless with a fresh profile (Playwright makes one per launch),
 * and nothing reaching out to the internet by itself.
 */
export const launchChromium = (): Promise<Browser> => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} is missing: apt-get install -y --no-install-recommends chromium (npm test does)`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
};

const root = fileURLToPath(new URL("..", import.meta.url));

/** Builds the console from its sources into a fresh folder: the local stack's build, or production's. */
export const buildConsole = async (mode: "localstack" | "production"): Promise<string> => {
  const outDir = mkdtempSync(join(tmpdir(), `medusa-console-${mode}-`));
  await build({
    root,
    mode,
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
};

/** Serious and critical accessibility violations on the page as it is now (axe-core). */
export const accessibilityViolations = async (page: Page) => {
  // Evaluated over the DevTools protocol, which the page's Content-Security-Policy does not govern.
  await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    const page = globalThis as unknown as { axe: typeof axe; document: axe.ElementContext };
    const result = await page.axe.run(page.document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  return violations.filter((v) => v.impact === "serious" || v.impact === "critical");
};

/** Where screenshots go: `MEDUSA_SCREENSHOTS` (the README's are made with it), else a temporary folder. */
export const screenshotDir = (): string => {
  const dir = process.env.MEDUSA_SCREENSHOTS ?? mkdtempSync(join(tmpdir(), "medusa-shots-"));
  mkdirSync(dir, { recursive: true });
  return dir;
};

/** The clinic's zone in the browser tests; the browser itself runs in New York. */
export const CLINIC_ZONE = "Europe/Berlin";

/** The local stack with the console it serves, and Chromium to drive it, for a test file. */
export interface ConsoleInBrowser {
  readonly stack: Stack;
  readonly browser: Browser;
  /** The console's local-stack build the stack serves. */
  readonly consoleDir: string;
  /** A page in a fresh context: the browser in New York, 1280 × 900 unless told. */
  readonly newPage: (options?: {
    readonly width?: number;
    readonly timeoutMs?: number;
    readonly acceptDownloads?: boolean;
  }) => Promise<{ context: BrowserContext; page: Page }>;
  /** The development sign-in, as a clinician unless told, until the Devices page shows. */
  readonly signIn: (page: Page, role?: "clinician" | "viewer") => Promise<void>;
  /** The API with the stack's clinician token: the status and the JSON answered. */
  readonly call: (
    method: string,
    path: string,
    body?: unknown,
  ) => Promise<{ status: number; json: Record<string, unknown> }>;
}

/**
 * Builds the console, starts the local stack serving it (one simulated device, the clinic in
 * `CLINIC_ZONE`, `options` on top) and Chromium before the file's tests (`beforeAll`, within
 * `setupMs`), and stops both after them (`afterAll`). `name` names the temporary folder.
 */
export const consoleInBrowser = (
  name: string,
  options: Partial<StackOptions> = {},
  setupMs = 180_000,
): ConsoleInBrowser => {
  const dir = mkdtempSync(join(tmpdir(), `medusa-console-${name}-`));
  let consoleDir: string | undefined;
  let stack: Stack | undefined;
  let browser: Browser | undefined;
  const ready = <A>(what: string, value: A | undefined): A => {
    if (value === undefined) throw new Error(`the ${what} is not started (beforeAll failed?)`);
    return value;
  };
  beforeAll(async () => {
    consoleDir = await buildConsole("localstack");
    [stack, browser] = await Promise.all([
      startStack({
        dir,
        devices: 1,
        apiPort: 0,
        mqttPort: 0,
        dynamoPort: 0,
        settleMs: 1_000,
        consoleDir,
        timeZone: CLINIC_ZONE,
        ...options,
      }),
      launchChromium(),
    ]);
  }, setupMs);
  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
    if (consoleDir) rmSync(consoleDir, { recursive: true, force: true });
  });
  const self: ConsoleInBrowser = {
    get stack() {
      return ready("stack", stack);
    },
    get browser() {
      return ready("browser", browser);
    },
    get consoleDir() {
      return ready("console's build", consoleDir);
    },
    newPage: async ({ width = 1280, timeoutMs = 20_000, acceptDownloads } = {}) => {
      const context = await self.browser.newContext({
        timezoneId: "America/New_York",
        viewport: { width, height: 900 },
        ...(acceptDownloads ? { acceptDownloads } : {}),
      });
      const page = await context.newPage();
      page.setDefaultTimeout(timeoutMs);
      return { context, page };
    },
    signIn: async (page, role = "clinician") => {
      await page.goto(self.stack.consoleUrl as string);
      await page.getByRole("heading", { name: "Development sign-in" }).waitFor();
      await page.getByLabel(role === "clinician" ? /^Clinician/ : /^Viewer/).check();
      await page.getByRole("button", { name: `Sign in as ${role}` }).click();
      await page.getByRole("heading", { name: "Devices", level: 1 }).waitFor();
    },
    call: async (method, path, body) => {
      const r = await fetch(`${self.stack.apiUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${self.stack.token}`,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.text();
      return { status: r.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
    },
  };
  return self;
};

/** No serious or critical accessibility violation on the page as it is now. */
export const expectAccessible = async (page: Page, what: string) => {
  const violations = await accessibilityViolations(page);
  expect(violations, `${what}: ${JSON.stringify(violations, null, 1)}`).toEqual([]);
};

/** Waits until `check` holds, every 200 ms, at most `ms`; else fails naming `what`. */
export const until = async (check: () => Promise<boolean>, what: string, ms = 30_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};
