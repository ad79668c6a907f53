import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { bundle, bundleLauncher } from "../../device/scripts/bundle.mjs";
import { putBundle } from "./bundles.js";
import { issueDevice } from "./issue-device.js";
import { type Stack, startStack } from "./stack.js";
import { api, eventually } from "./testing/stack-client.js";

// The README's "run a job": through the API, AWS IoT Jobs (its control plane and the device's
// MQTT API, emulated), to a simulated device's jobs client and back as the execution's status;
// the jobs kept across a restart of the stack.
const dir = mkdtempSync(join(tmpdir(), "medusa-stack-jobs-"));
let stack: Stack | undefined;
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const start = () =>
  startStack({ dir, devices: 1, apiPort: 0, mqttPort: 0, dynamoPort: 0, publishIntervalMs: 500 });

type Job = { job_id: string; type: string; status: string; status_details: Record<string, string> };
const jobsOf = async (s: Stack, id: string) =>
  (await api(s, "GET", `/api/devices/${id}/jobs`)).json.jobs as Array<Job>;

it("a clinician runs config.set and outbox.flush jobs; the device runs them and they end SUCCEEDED; the record outlives a restart", async () => {
  stack = await start();
  const s = stack;
  const id = s.deviceIds[0] as string;
  const set = await api(s, "POST", `/api/devices/${id}/jobs`, {
    type: "config.set",
    settings: { publish: { interval_ms: 2000 } },
  });
  expect(set.status).toBe(201);
  const setId = set.json.job_id as string;
  await eventually(
    async () => (await jobsOf(s, id)).find((j) => j.job_id === setId)?.status === "SUCCEEDED",
    "config.set SUCCEEDED",
  );
  expect(s.devices[0]?.agent.stats().publishIntervalMs).toBe(2000);

  const flush = await api(s, "POST", `/api/devices/${id}/jobs`, { type: "outbox.flush" });
  expect(flush.status).toBe(201);
  await eventually(
    async () =>
      (await jobsOf(s, id)).find((j) => j.job_id === flush.json.job_id)?.status === "SUCCEEDED",
    "outbox.flush SUCCEEDED",
  );

  await s.stop();
  stack = undefined;
  expect(existsSync(join(dir, "jobs.json"))).toBe(true);
  stack = await start();
  const listed = await jobsOf(stack, id);
  expect(listed.map((j) => [j.type, j.status]).sort()).toEqual([
    ["config.set", "SUCCEEDED"],
    ["outbox.flush", "SUCCEEDED"],
  ]);
}, 240_000);

/** systemd's Restart=always for the launcher: started again 200 ms after every exit, until stopped. */
const supervise = (launcher: string, installed: string, config: string) => {
  let child: ChildProcess | undefined;
  let stopped = false;
  const output: Array<string> = [];
  const run = () => {
    child = spawn(process.execPath, [launcher, installed, "--config", config], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
    child.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
    child.on("exit", () => {
      if (!stopped) setTimeout(run, 200);
    });
  };
  run();
  return {
    output,
    stop: async () => {
      stopped = true;
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const gone = new Promise((r) => c.once("exit", r));
        c.kill("SIGTERM");
        await Promise.race([gone, new Promise((r) => setTimeout(r, 15_000))]);
      }
    },
  };
};

it("the README's 'Update an agent': put-bundle, an agent.update through the API, the bundle fetched by presigned URL from the stack's bucket; SUCCEEDED from the new version; a wrong sha256 FAILED with nothing changed", async () => {
  stack ??= await start();
  const s = stack;
  const id = "medusa-pi-update";
  const build = join(dir, "build");
  const launcher = (
    await bundleLauncher({ outfile: join(build, "medusa-launcher.mjs"), quiet: true })
  ).outfile;
  const v1 = (await bundle({ outfile: join(build, "v1", "medusa-device.mjs"), quiet: true }))
    .outfile;
  const v2 = (
    await bundle({ outfile: join(build, "v2", "medusa-device.mjs"), quiet: true, version: "0.2.0" })
  ).outfile;
  // A device of one's own, as `issue-device` makes it: its configuration trusts the stack's CA
  // for the bundle download too.
  const issued = await issueDevice({ id, dir, mqttPort: s.mqttPort });
  const home = join(dir, "pi-home");
  mkdirSync(home, { recursive: true });
  const installed = join(home, "medusa-device.mjs");
  copyFileSync(v1, installed);
  const device = supervise(launcher, installed, issued.files.config);
  try {
    const put = putBundle({ dir, file: v2 });
    expect(put.key).toBe("agent/0.2.0/medusa-device.mjs");
    const created = await api(s, "POST", `/api/devices/${id}/jobs`, put.jobRequest);
    expect(created.status).toBe(201);
    const jobId = created.json.job_id as string;
    await eventually(
      async () => (await jobsOf(s, id)).find((j) => j.job_id === jobId)?.status === "SUCCEEDED",
      "agent.update SUCCEEDED",
      120_000,
    );
    const done = (await jobsOf(s, id)).find((j) => j.job_id === jobId);
    expect(done?.status_details).toMatchObject({ version: "0.2.0", previous: "0.1.0" });
    expect(readFileSync(installed).equals(readFileSync(v2))).toBe(true);
    expect(s.bundles.stats().served).toBeGreaterThanOrEqual(1);

    // The same bundle announced with another digest: refused on the device, nothing swapped.
    const wrong = await api(s, "POST", `/api/devices/${id}/jobs`, {
      ...put.jobRequest,
      version: "0.3.0",
      sha256: "0".repeat(64),
    });
    expect(wrong.status).toBe(201);
    await eventually(
      async () =>
        (await jobsOf(s, id)).find((j) => j.job_id === wrong.json.job_id)?.status === "FAILED",
      "the wrong sha256 FAILED",
      120_000,
    );
    const failed = (await jobsOf(s, id)).find((j) => j.job_id === wrong.json.job_id);
    expect(failed?.status_details).toMatchObject({
      reason: expect.stringMatching(/^sha256 mismatch: expected 0{64}, got [0-9a-f]{64}/),
      version: "0.2.0",
    });
    expect(readFileSync(installed).equals(readFileSync(v2))).toBe(true);
  } finally {
    await device.stop();
  }
}, 360_000);
