#!/usr/bin/env node
// Entry point for the root `npm test` / `npm start` (and their pnpm twins):
// works on a machine that has only Node and npm, by fetching the pinned pnpm
// through npx when it is not installed, then installing the workspace.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
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

const reportOf = (run) => join(root, "node_modules", ".cache", `vitest-report-${run}.json`);

/**
 * The Node.js a part of the system runs on. The cloud side (API, Lambda
 * handlers, the local stack) needs 22 or newer (Lambda runs 24); devices run
 * 20.19 or newer. This Node.js when it fits, else that release fetched from
 * the npm registry (the `node` package; cached by npx after the first time).
 */
const nodeFor = (wanted, fits) => {
  if (fits(Number(process.versions.node.split(".")[0]))) return process.execPath;
  const r = spawnSync(
    "npx",
    ["--yes", "-p", `node@${wanted}`, "node", "-e", "process.stdout.write(process.execPath)"],
    // Without the settings pnpm hands its scripts, which npm would warn about one by one.
    { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"], env: withoutPnpmConfig() },
  );
  if (r.status !== 0 || !r.stdout)
    throw Object.assign(new Error(`no Node.js ${wanted}`), { status: 1 });
  return r.stdout;
};
const firstLine = (text) => (text ?? "").split("\n").find((l) => l.trim() !== "") ?? "";
const withoutPnpmConfig = () =>
  Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith("npm_config_")),
  );
const cloudNode = () => nodeFor("24", (major) => major >= 22);
const deviceNode = () => nodeFor("20", (major) => major === 20);

/**
 * The whole suite on the cloud's Node.js, then what runs on a device
 * (`MEDUSA_TEST_SCOPE=device`) on the devices' floor; both run even when the
 * first fails. Prints the plain closing line CI reads: "N passed, N failed".
 */
const testOnBoth = (args) => {
  const runs = [
    { name: "cloud", node: cloudNode(), env: {} },
    { name: "device", node: deviceNode(), env: { MEDUSA_TEST_SCOPE: "device" } },
  ];
  let failure;
  for (const r of runs) {
    rmSync(reportOf(r.name), { force: true });
    const version = spawnSync(r.node, ["--version"], { encoding: "utf8" }).stdout.trim();
    console.log(
      `\n— ${r.name === "cloud" ? "every test" : "the device side"} on Node.js ${version} —`,
    );
    const result = spawnSync(
      r.node,
      [
        join(root, "node_modules", "vitest", "vitest.mjs"),
        "run",
        "--reporter=default",
        "--reporter=json",
        `--outputFile.json=${reportOf(r.name)}`,
        ...args,
      ],
      { cwd: root, stdio: "inherit", env: { ...process.env, ...r.env } },
    );
    if (result.status !== 0) failure ??= Object.assign(new Error("tests failed"), { status: 1 });
  }
  const totals = { passed: 0, failed: 0, skipped: 0 };
  const failedTests = [];
  for (const r of runs) {
    try {
      const j = JSON.parse(readFileSync(reportOf(r.name), "utf8"));
      totals.passed += j.numPassedTests;
      totals.failed += j.numFailedTests;
      totals.skipped += j.numPendingTests + j.numTodoTests;
      for (const file of j.testResults) {
        const path = file.name.startsWith(root) ? file.name.slice(root.length + 1) : file.name;
        // A file that failed outside any test (an import, a setup) has no failed test in it.
        if (file.status === "failed" && !file.assertionResults.some((t) => t.status === "failed"))
          failedTests.push(`${r.name}: ${path}: ${firstLine(file.message)}`);
        for (const t of file.assertionResults)
          if (t.status === "failed")
            failedTests.push(
              `${r.name}: ${path} > ${t.fullName}: ${firstLine(t.failureMessages[0] ?? "")}`,
            );
      }
    } catch {
      // No report: vitest did not get far enough to write one; its own output says why.
    }
  }
  // Repeated last, so the tail of a long CI log names what failed.
  if (failedTests.length > 0)
    console.log(`\nFailed:\n${failedTests.map((f) => `  ${f}`).join("\n")}`);
  console.log(`\n${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
  if (failure) throw failure;
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

/**
 * Chromium, from Debian's packages: the browser the console's end-to-end tests
 * drive with playwright-core (Playwright's own browser download needs hosts
 * this setup cannot reach). Installed when missing, like Mosquitto.
 */
const ensureChromium = () => {
  if (existsSync("/usr/bin/chromium")) return;
  if (spawnSync("apt-get", ["--version"], { stdio: "ignore" }).status !== 0) return;
  const sudo = process.getuid?.() === 0 ? [] : ["sudo"];
  const apt = (...args) => {
    const [cmd, ...rest] = [...sudo, "apt-get", ...args];
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    return spawnSync(cmd, rest, { stdio: ["ignore", "ignore", "inherit"], env }).status === 0;
  };
  console.log("installing chromium (Debian package) for the console's browser tests …");
  const install = () => apt("install", "-y", "--no-install-recommends", "chromium");
  if (!install() && !(apt("update") && install()))
    console.warn("could not install chromium; the console's browser tests will fail until it is");
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
      ensureChromium();
      p("exec", "biome", "ci", ".");
      p("-r", "--parallel", "typecheck");
      // The published form too: each package's dist/ as `pnpm pack` builds it.
      p("-r", "build");
      testOnBoth(rest);
      break;
    case "start": {
      // The local stack: DynamoDB Local, the TLS broker, ingest, the API, simulated devices.
      // Run directly (no pnpm or tsx CLI in between) so that Ctrl-C reaches one process,
      // which stops everything and exits 0; this one only waits for it.
      // The console the stack serves at `/`, built once (`pnpm -r build` rebuilds it).
      if (!existsSync(join(root, "packages", "console", "dist-local", "index.html")))
        p("--filter", "@medusa/console", "build");
      process.on("SIGINT", () => {});
      process.on("SIGTERM", () => {});
      const main = join(root, "packages", "stack", "src", "main.ts");
      const r = spawnSync(
        cloudNode(),
        ["--import", "tsx", "--conditions=@medusa/source", main, ...rest],
        { cwd: process.cwd(), stdio: "inherit" },
      );
      return process.exit(r.status ?? 1);
    }
    case "cloud": {
      // A cloud-side script (a benchmark, the cost command) on the cloud's Node.js.
      const [file, ...args] = rest;
      const r = spawnSync(
        cloudNode(),
        ["--import", "tsx", "--conditions=@medusa/source", join(root, file), ...args],
        { cwd: root, stdio: "inherit" },
      );
      return process.exit(r.status ?? 1);
    }
    default:
      console.error(`unknown task ${task}: use install, start, test or cloud <file>`);
      process.exit(2);
  }
}
