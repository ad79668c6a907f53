#!/usr/bin/env node
// Entry point for the root `npm test` / `npm start` (and their pnpm twins):
// works on a machine that has only Node and npm, by fetching the pinned pnpm
// through npx when it is not installed, then installing the workspace.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const { packageManager } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));

const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", shell: false });
  if (r.error) throw r.error;
  if (r.status !== 0)
    throw Object.assign(new Error(`${cmd} ${args.join(" ")} failed`), { status: r.status ?? 1 });
};

const hasPnpm = () => spawnSync("pnpm", ["--version"], { stdio: "ignore" }).status === 0;
const pnpm = hasPnpm() ? ["pnpm"] : ["npx", "--yes", packageManager];
const p = (...args) => run(pnpm[0], [...pnpm.slice(1), ...args]);

const report = join(root, "node_modules", ".cache", "vitest-report.json");

/** Runs the tests, then prints the plain closing line CI reads: "N passed, N failed". */
const summarise = (tests) => {
  try {
    tests();
  } finally {
    try {
      const r = JSON.parse(readFileSync(report, "utf8"));
      console.log(
        `\n${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`,
      );
    } catch {
      // No report: vitest did not get far enough to write one; its own output says why.
    }
  }
};

/**
 * Mosquitto, from Debian's packages: the second MQTT broker the transport is
 * tested against. Installed when missing (with sudo when not root); when that
 * cannot be done, its test says what is missing.
 */
const ensureMosquitto = () => {
  const found = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].some((path) => existsSync(path));
  if (found || spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) return;
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const apt = (...args) => {
    const [cmd, ...rest] = [...sudo, "apt-get", ...args];
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    return spawnSync(cmd, rest, { stdio: ["ignore", "ignore", "inherit"], env }).status === 0;
  };
  console.log("installing mosquitto (Debian package) for the MQTT broker tests …");
  const install = () => apt("install", "-y", "--no-install-recommends", "mosquitto");
  if (!install() && !(apt("update") && install()))
    console.warn("could not install mosquitto; its tests will fail until it is installed");
};

const [task = "install", ...rest] = process.argv.slice(2);
try {
  main();
} catch (e) {
  process.exit(e.status ?? 1);
}

function main() {
  p("install", "--frozen-lockfile", "--prefer-offline");
  switch (task) {
    case "install":
      break;
    case "test":
      ensureMosquitto();
      p("exec", "biome", "ci", ".");
      p("-r", "--parallel", "typecheck");
      // The published form too: each package's dist/ as `pnpm pack` builds it.
      p("-r", "build");
      summarise(() =>
        p(
          "exec",
          "vitest",
          "run",
          "--reporter=default",
          "--reporter=json",
          `--outputFile.json=${report}`,
          ...rest,
        ),
      );
      break;
    case "start": {
      // The local stack: DynamoDB Local, the TLS broker, ingest, the API, simulated devices.
      // Run directly (no pnpm or tsx CLI in between) so that Ctrl-C reaches one process,
      // which stops everything and exits 0; this one only waits for it.
      process.on("SIGINT", () => {});
      process.on("SIGTERM", () => {});
      const main = join(root, "packages", "stack", "src", "main.ts");
      const r = spawnSync(
        process.execPath,
        ["--import", "tsx", "--conditions=@medusa/source", main, ...rest],
        { cwd: process.cwd(), stdio: "inherit" },
      );
      return process.exit(r.status ?? 1);
    }
    default:
      console.error(`unknown task ${task}: use install, start or test`);
      process.exit(2);
  }
}
