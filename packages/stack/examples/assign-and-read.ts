import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStack } from "@medusa/stack";

// Everything on free ports, data in a throw-away folder, one simulated device.
const dir = mkdtempSync(join(tmpdir(), "medusa-example-"));
const stack = await startStack({ dir, devices: 1, apiPort: 0, mqttPort: 0, dynamoPort: 0 });
const call = <T>(path: string, body?: unknown): Promise<T> =>
  fetch(`${stack.apiUrl}${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${stack.token}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).then((r) => r.json() as Promise<T>);
type Assigned = { status: string; assignment: { assignment_timestamp: number } };
type Timeline = { count: number; data: Array<{ device_id: string }> };

try {
  const device = stack.deviceIds[0];
  const assigned = await call<Assigned>("/api/devices/assign", {
    device_id: device,
    patient_id: "P-001",
    patient_name: "Test Patient",
  });
  assert.equal(assigned.status, "success");

  // The device publishes a batch a second; within a few seconds its samples are the patient's.
  const since = assigned.assignment.assignment_timestamp;
  let timeline: Timeline = { count: 0, data: [] };
  for (let i = 0; i < 50 && timeline.count < 10; i++) {
    await new Promise((r) => setTimeout(r, 200));
    timeline = await call<Timeline>(
      `/api/patients/P-001/sensor-data?start_time=${since}&end_time=${Date.now()}&limit=100`,
    );
  }
  assert.ok(timeline.count >= 10);
  assert.equal(timeline.data[0]?.device_id, device);
} finally {
  await stack.stop();
  rmSync(dir, { recursive: true, force: true });
}
