import { makeInMemoryStores } from "@medusa/adapters/testing";
import {
  actor,
  alertIdOf,
  applyPresence,
  deviceId,
  epochMillis,
  initialDeviceStatus,
  patientId,
} from "@medusa/domain";
import { Effect } from "effect";
import { beforeEach, describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { portsOf } from "./testing/app-suite.js";
import { signToken, testAuth } from "./testing/index.js";

const T = 1_764_400_000_000;
let stores: ReturnType<typeof makeInMemoryStores>;
let app: ReturnType<typeof createApp>;
let viewer: string;
let clinician: string;
let now = T + 60_000;

const get = async (path: string, token: string | null = viewer, method = "GET") => {
  const res = await app.request(path, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

beforeEach(async () => {
  now = T + 60_000;
  stores = makeInMemoryStores();
  app = createApp({
    layer: portsOf(stores, () => now),
    authenticate: testAuth(),
    log: () => {},
  });
  viewer = await signToken({ email: "auditor@clinic.example", roles: ["viewer"] });
  clinician = await signToken({ email: "nurse@clinic.example", roles: ["clinician"] });
  // pi-1: connected, worn by P-1, with an open gap; pi-2: gone (connection lost), nobody's.
  const pi1 = applyPresence(
    {
      ...initialDeviceStatus(deviceId("pi-1")),
      assignment: {
        deviceId: deviceId("pi-1"),
        patientId: patientId("P-1"),
        assignedBy: actor("nurse@clinic.example"),
        start: epochMillis(T),
      },
      assignmentVersion: 1,
    },
    {
      clientId: deviceId("pi-1"),
      eventType: "connected",
      timestamp: epochMillis(T),
      sessionIdentifier: "s1",
      principalIdentifier: "c1",
      versionNumber: 1,
    },
  );
  const pi2 = applyPresence(initialDeviceStatus(deviceId("pi-2")), {
    clientId: deviceId("pi-2"),
    eventType: "disconnected",
    timestamp: epochMillis(T + 5),
    sessionIdentifier: "s2",
    principalIdentifier: "c2",
    versionNumber: 1,
    clientInitiatedDisconnect: false,
    disconnectReason: "CONNECTION_LOST",
  });
  await Effect.runPromise(stores.deviceStatuses.save(pi1, 0));
  await Effect.runPromise(stores.deviceStatuses.save(pi2, 0));
  await Effect.runPromise(
    stores.alerts.open({
      _tag: "DataGapOpened",
      alertId: alertIdOf(deviceId("pi-1"), epochMillis(T), epochMillis(T)),
      deviceId: deviceId("pi-1"),
      patientId: patientId("P-1"),
      assignmentStart: epochMillis(T),
      since: epochMillis(T),
      raisedAt: epochMillis(T + 50_000),
    }),
  );
});

describe("the fleet routes", () => {
  it("GET /api/devices: each device's assignment, presence, last sample and open alerts; filtered by status; paged", async () => {
    const all = await get("/api/devices");
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ count: 2, next_cursor: null });
    const devices = all.body.devices as Array<Record<string, unknown>>;
    expect(devices[0]).toEqual({
      device_id: "pi-1",
      connected: true,
      last_seen: T + 60_000,
      last_sample: null,
      last_connected_at: T,
      last_disconnected_at: null,
      disconnect_reason: null,
      assignment: {
        patient_id: "P-1",
        patient_name: null,
        assigned_by: "nurse@clinic.example",
        assignment_timestamp: T,
      },
      open_alerts: [expect.objectContaining({ device_id: "pi-1", patient_id: "P-1", since: T })],
      // No shadow report yet.
      reported: null,
    });
    expect(devices[1]).toMatchObject({
      device_id: "pi-2",
      connected: false,
      last_seen: T + 5,
      disconnect_reason: "CONNECTION_LOST",
      assignment: null,
    });
    const ids = async (q: string) =>
      ((await get(`/api/devices?${q}`)).body.devices as Array<{ device_id: string }>).map(
        (d) => d.device_id,
      );
    expect(await ids("status=assigned")).toEqual(["pi-1"]);
    expect(await ids("status=available")).toEqual(["pi-2"]);
    expect(await ids("status=offline")).toEqual(["pi-2"]);
    expect(await ids("status=alert")).toEqual(["pi-1"]);
    const first = await get("/api/devices?limit=1");
    expect(first.body.count).toBe(1);
    const next = await get(`/api/devices?limit=1&cursor=${first.body.next_cursor as string}`);
    expect((next.body.devices as Array<{ device_id: string }>)[0]?.device_id).toBe("pi-2");
    expect((await get("/api/devices?status=lost")).status).toBe(400);
    expect((await get("/api/devices?cursor=forged")).body).toMatchObject({
      status: 400,
      type: expect.stringContaining("invalid-cursor"),
    });
    expect((await get("/api/devices", null)).status).toBe(401);
  });

  it("GET /api/devices/{device_id}: one device with its recent alerts; a device never seen is offline and unassigned", async () => {
    const one = await get("/api/devices/pi-1");
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      device_id: "pi-1",
      connected: true,
      recent_alerts: [{ device_id: "pi-1" }],
    });
    expect((await get("/api/devices/never-seen")).body).toMatchObject({
      connected: false,
      last_seen: null,
      assignment: null,
      open_alerts: [],
    });
    expect((await get("/api/devices/a%2Fb")).status).toBe(400);
  });

  it("GET /api/alerts lists the open alerts; a clinician acknowledges one (a viewer may not); an unknown one is 404", async () => {
    const listed = await get("/api/alerts");
    expect(listed.body).toMatchObject({ count: 1, next_cursor: null });
    const id = (listed.body.alerts as Array<{ alert_id: string }>)[0]!.alert_id;
    expect((await get(`/api/alerts/${id}/acknowledge`, viewer, "POST")).status).toBe(403);
    const acked = await get(`/api/alerts/${id}/acknowledge`, clinician, "POST");
    expect(acked.status).toBe(200);
    expect(acked.body.alert).toMatchObject({
      acknowledged_by: "nurse@clinic.example",
      acknowledged_at: T + 60_000,
      closed_at: null,
    });
    const missing = await get(
      `/api/alerts/${alertIdOf(deviceId("pi-9"), epochMillis(1), epochMillis(2))}/acknowledge`,
      clinician,
      "POST",
    );
    expect(missing.body).toMatchObject({
      status: 404,
      type: expect.stringContaining("alert-not-found"),
    });
    expect((await get("/api/alerts/nope/acknowledge", clinician, "POST")).status).toBe(400);
  });

  it("GET /api/devices and /api/alerts answer 304 to the ETag of an unchanged page; a change, a connected device's clock alone not", async () => {
    const read = (path: string, etag?: string) =>
      app.request(path, {
        headers: { authorization: `Bearer ${viewer}`, ...(etag ? { "if-none-match": etag } : {}) },
      });
    const first = await read("/api/devices");
    const tag = first.headers.get("etag") ?? "";
    expect(tag).toMatch(/^W\/"[\w-]{27}"$/);
    expect(first.headers.get("cache-control")).toBe("no-store");
    // pi-1 is connected: its last_seen is the time of the read, which alone changes nothing.
    now += 5_000;
    const same = await read("/api/devices", tag);
    expect(same.status).toBe(304);
    expect(await same.text()).toBe("");
    expect(same.headers.get("etag")).toBe(tag);
    expect((await read("/api/devices", `"other", ${tag.slice(2)}`)).status).toBe(304);
    expect((await read("/api/devices", '"other"')).status).toBe(200);
    // Another filter is another page, with its own tag.
    expect((await read("/api/devices?status=offline", tag)).status).toBe(200);

    const alerts = await read("/api/alerts");
    const alertsTag = alerts.headers.get("etag") ?? "";
    expect((await read("/api/alerts", alertsTag)).status).toBe(304);
    const id = ((await alerts.json()) as { alerts: Array<{ alert_id: string }> }).alerts[0]!
      .alert_id;
    expect((await get(`/api/alerts/${id}/acknowledge`, clinician, "POST")).status).toBe(200);
    // Acknowledged: the alert reads differently, in the alerts and in the fleet.
    const changed = await read("/api/alerts", alertsTag);
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(alertsTag);
    expect((await read("/api/devices", tag)).status).toBe(200);
  });
});
