import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
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
