import { existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import axe from "axe-core";
import { type Browser, chromium, type Page } from "playwright-core";
import { build } from "vite";

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
