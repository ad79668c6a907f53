import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { type Stack, startStack } from "./stack.js";
import { api, eventually } from "./testing/stack-client.js";

// The README's "change a device's rate": through the API, the shadow (AWS IoT's data plane,
// emulated), to a simulated device and back in its report; kept across a restart of the stack.
const dir = mkdtempSync(join(tmpdir(), "medusa-stack-shadow-"));
let stack: Stack | undefined;
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const start = () =>
  startStack({ dir, devices: 1, apiPort: 0, mqttPort: 0, dynamoPort: 0, publishIntervalMs: 500 });

it("a clinician changes a device's publish interval; the device takes it and reports it; the shadow outlives a restart", async () => {
  stack = await start();
  const s = stack;
  const id = s.deviceIds[0] as string;
  await eventually(
    async () => (await api(s, "GET", `/api/devices/${id}/configuration`)).status === 200,
    "the device's first report",
  );
  const set = await api(s, "PATCH", `/api/devices/${id}/configuration`, {
    publish: { interval_ms: 2000 },
  });
  expect(set.status).toBe(202);
  await eventually(async () => {
    const c = await api(s, "GET", `/api/devices/${id}/configuration`);
    return (
      (c.json.reported as { publish?: { interval_ms?: number } } | null)?.publish?.interval_ms ===
      2000
    );
  }, "the new interval reported");
  const summary = await api(s, "GET", `/api/devices/${id}/configuration`);
  expect(summary.json).toMatchObject({
    desired: { publish: { interval_ms: 2000 } },
    pending: [],
    refused: [],
  });
  expect(s.devices[0]?.agent.stats().publishIntervalMs).toBe(2000);
  const version = summary.json.version as number;
  await s.stop();
  stack = undefined;
  expect(existsSync(join(dir, "shadows.jsonl"))).toBe(true);

  stack = await start();
  const again = stack;
  const after = await api(again, "GET", `/api/devices/${id}/configuration`);
  expect(after.status).toBe(200);
  expect(after.json.version as number).toBeGreaterThanOrEqual(version);
  expect(after.json).toMatchObject({ desired: { publish: { interval_ms: 2000 } } });
}, 180_000);
