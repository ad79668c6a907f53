import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deviceId, encodeSampleBatch, isConnected } from "@medusa/domain";
import { sampleAt } from "@medusa/domain/testing";
import { Effect } from "effect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type Stack, startStack } from "./stack.js";
import { api, connectAs, eventually } from "./testing/stack-client.js";

const dir = mkdtempSync(join(tmpdir(), "medusa-fleet-"));
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({
    dir,
    devices: 2,
    apiPort: 0,
    mqttPort: 0,
    dynamoPort: 0,
    publishIntervalMs: 500,
    settleMs: 1_000,
    gapMs: 4_000,
  });
}, 120_000);
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const statusOf = async (id: string) =>
  (await Effect.runPromise(stack.stores.deviceStatuses.get(deviceId(id))))?.status ?? null;

it("presence: each simulated device's connect reaches its status; the stack's own service client is no device", async () => {
  for (const id of stack.deviceIds)
    await eventually(async () => {
      const s = await statusOf(id);
      return s !== null && isConnected(s);
    }, `${id} connected`);
  const page = await Effect.runPromise(stack.stores.deviceStatuses.list({ limit: 100 }));
  expect(page.statuses.map((s) => s.deviceId).sort()).toEqual([...stack.deviceIds].sort());
});

it("the reported shadow summary: each device's report reaches its status row and the fleet list", async () => {
  await eventually(async () => {
    const list = await api(stack, "GET", "/api/devices?limit=10");
    const devices = list.json.devices as Array<{ reported: Record<string, unknown> | null }>;
    return devices.length === stack.deviceIds.length && devices.every((d) => d.reported !== null);
  }, "every device's reported summary");
  const list = await api(stack, "GET", "/api/devices?limit=10");
  for (const d of list.json.devices as Array<{ reported: Record<string, unknown> }>)
    expect(d.reported).toMatchObject({
      agent_version: expect.any(String),
      sensor_model: expect.any(String),
      sample_rate_hz: 10,
      publish_interval_ms: 500,
      shadow_version: expect.any(Number),
      reported_at: expect.any(Number),
    });
});

it("each device's newest sample time reaches its status row through the ingest, not more than once a minute", async () => {
  // The simulated devices publish every 500 ms: their rows hold a sample time soon after.
  for (const id of stack.deviceIds)
    await eventually(async () => (await statusOf(id))?.lastSampleAt != null, `${id}'s sample time`);
  const first = await Promise.all(
    stack.deviceIds.map(async (id) => (await statusOf(id))?.lastSampleAt),
  );
  const list = await api(stack, "GET", "/api/devices?limit=10");
  for (const d of list.json.devices as Array<{ device_id: string; last_sample: number | null }>)
    expect(d.last_sample).toBe(first[stack.deviceIds.indexOf(d.device_id)]);
  // Further batches within the minute change nothing (the fleet status remembers the time held).
  await new Promise((r) => setTimeout(r, 1_500));
  const after = await Promise.all(
    stack.deviceIds.map(async (id) => (await statusOf(id))?.lastSampleAt),
  );
  expect(after).toEqual(first);
});

it("data gap: an assigned device that stops sending raises one alert (device, patient, since); sending again clears it", async () => {
  const [id] = stack.deviceIds as [string];
  const assigned = await api(stack, "POST", "/api/devices/assign", {
    device_id: id,
    patient_id: "P-GAP",
  });
  expect(assigned.status).toBe(201);
  await eventually(
    async () => (await statusOf(id))?.assignment?.patientId === "P-GAP",
    "assignment in status",
  );
  // Sending: no alert after more than the gap time.
  await new Promise((r) => setTimeout(r, 5_000));
  expect((await stack.fleet.detectNow()).opened).toEqual([]);

  const device = stack.devices.find((d) => d.config.deviceId === id);
  await device?.stop();
  const stoppedAt = Date.now();
  await eventually(async () => {
    const s = await statusOf(id);
    return s !== null && !isConnected(s);
  }, "disconnected");
  expect((await statusOf(id))?.lastDisconnect?.disconnectReason).toBe(
    "CLIENT_INITIATED_DISCONNECT",
  );
  await eventually(
    () => stack.fleet.announced().some((e) => e._tag === "DataGapOpened" && e.deviceId === id),
    "the gap alert",
  );
  const opened = stack.fleet.announced().find((e) => e._tag === "DataGapOpened");
  expect(opened).toMatchObject({ deviceId: id, patientId: "P-GAP" });
  // Raised within the gap time and a detector period of the last sample.
  expect(opened!.raisedAt - opened!.since).toBeGreaterThanOrEqual(4_000);
  expect(opened!.raisedAt - stoppedAt).toBeLessThan(4_000 + 1_500);
  // The detector announces, then keeps the alert: the open list follows the announcement.
  const openIds = async () =>
    (await Effect.runPromise(stack.stores.alerts.listOpen({ limit: 10 }))).alerts.map((a) => a.id);
  await eventually(async () => (await openIds()).length > 0, "the open alert kept");
  expect(await openIds()).toEqual([opened!.alertId]);

  // Data resumes: a sample from the device's id (here a one-off publish of the native batch).
  const transport = connectAs(stack, id);
  await transport.waitConnected();
  await transport.publish(
    `${stack.topicPrefix}/${id}/sensor/data`,
    encodeSampleBatch([sampleAt(Date.now(), 900_000)]),
  );
  await eventually(
    () => stack.fleet.announced().some((e) => e._tag === "DataGapClosed" && e.deviceId === id),
    "the gap closed",
  );
  expect(stack.fleet.announced().at(-1)).toMatchObject({
    _tag: "DataGapClosed",
    reason: "data-resumed",
  });
  await transport.close();
}, 90_000);
