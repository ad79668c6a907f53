import { makeInMemoryDeviceShadows, makeInMemoryStores } from "@medusa/adapters/testing";
import { deviceId } from "@medusa/domain";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { portsOf } from "./testing/app-suite.js";
import { signToken, testAuth } from "./testing/index.js";

// The configuration routes on the in-memory shadows (the twin that passes the
// shadows contract with AWS IoT's data plane, emulated).
let clinician: string;
let viewer: string;
beforeAll(async () => {
  clinician = await signToken({ email: "c@clinic.example", roles: ["clinician"] });
  viewer = await signToken({ email: "v@clinic.example", roles: ["viewer"] });
});

const NOW = 1_790_000_000_000;
const setup = (withShadows = true) => {
  const shadows = makeInMemoryDeviceShadows(() => NOW);
  const app = createApp({
    layer: portsOf(makeInMemoryStores(), () => NOW),
    authenticate: testAuth(),
    log: () => {},
    ...(withShadows ? { shadows } : {}),
  });
  const call = (method: string, path: string, token: string, body?: unknown) =>
    app.request(path, {
      method,
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  return { shadows, call };
};

describe("a device's configuration through its shadow", () => {
  it("a clinician sets a rate; the device's report closes it; the summary shows desired, reported, pending", async () => {
    const { shadows, call } = setup();
    const none = await call("GET", "/api/devices/pi-1/configuration", viewer);
    expect(none.status).toBe(404);
    expect(await none.json()).toMatchObject({
      type: "https://medusa-link.dev/problems/device-shadow-not-found",
    });

    const set = await call("PATCH", "/api/devices/pi-1/configuration", clinician, {
      publish: { interval_ms: 5000 },
      sensor: { sample_rate_hz: 25 },
    });
    expect(set.status).toBe(202);
    expect(await set.json()).toEqual({
      device_id: "pi-1",
      version: 1,
      desired: { sensor: { sample_rate_hz: 25 }, publish: { interval_ms: 5000 } },
    });
    const pending = await (await call("GET", "/api/devices/pi-1/configuration", viewer)).json();
    expect(pending).toMatchObject({
      version: 1,
      desired: { sensor: { sample_rate_hz: 25 }, publish: { interval_ms: 5000 } },
      reported: null,
      pending: ["sensor.sample_rate_hz", "publish.interval_ms"],
      refused: [],
      desired_at: NOW,
      reported_at: null,
    });

    shadows.report(deviceId("pi-1"), {
      agent: { version: "0.1.0" },
      sensor: { model: "ADXL345", healthy: true, error: null, sample_rate_hz: 25 },
      publish: {
        interval_ms: 5000,
        status_interval_ms: 30000,
        effective_interval_ms: 5000,
        basic_ingest: false,
        last_publish_at: NOW,
      },
      outbox: { depth: 0, bytes: 0, drops: 0 },
      reconnects: 0,
      uptime_s: 10,
      refused: [],
      timestamp: NOW,
    });
    const synced = (await (
      await call("GET", "/api/devices/pi-1/configuration", viewer)
    ).json()) as {
      reported: { sensor: Record<string, unknown> };
    };
    expect(synced).toMatchObject({
      version: 2,
      pending: [],
      reported: { publish: { interval_ms: 5000 }, sensor: { sample_rate_hz: 25 } },
      reported_at: NOW,
    });
    // `error: null` was stored as no key (null deletes), and reads as none.
    expect(synced.reported.sensor.error).toBeUndefined();
  });

  it("refuses what the agent would refuse, and writes nothing", async () => {
    const { call } = setup();
    for (const body of [
      { publish: { interval_ms: 5 } },
      { sensor: { sample_rate_hz: 75 } },
      {},
      { publish: { status_interval_ms: 1000.5 } },
    ]) {
      const r = await call("PATCH", "/api/devices/pi-2/configuration", clinician, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect((await call("GET", "/api/devices/pi-2/configuration", viewer)).status).toBe(404);
    // A viewer reads, only a clinician writes.
    const forbidden = await call("PATCH", "/api/devices/pi-2/configuration", viewer, {
      publish: { interval_ms: 5000 },
    });
    expect(forbidden.status).toBe(403);
  });

  it("live mode: a short interval until now + duration, at most an hour; ended early on request", async () => {
    const { call } = setup();
    const started = await call("POST", "/api/devices/pi-3/live", clinician, {
      interval_ms: 200,
      duration_s: 120,
    });
    expect(started.status).toBe(202);
    expect(await started.json()).toMatchObject({
      version: 1,
      desired: { publish: { live_interval_ms: 200, live_until: NOW + 120_000 } },
    });
    const defaults = (await (await call("POST", "/api/devices/pi-3/live", clinician)).json()) as {
      desired: unknown;
    };
    expect(defaults.desired).toEqual({
      publish: { live_interval_ms: 1000, live_until: NOW + 300_000 },
    });
    expect(
      (await call("POST", "/api/devices/pi-3/live", clinician, { duration_s: 7200 })).status,
    ).toBe(400);
    const ended = (await (await call("DELETE", "/api/devices/pi-3/live", clinician)).json()) as {
      desired: unknown;
    };
    expect(ended.desired).toEqual({ publish: { live_interval_ms: 1000, live_until: NOW } });
  });

  it("a refusal of the shadow service maps to its problem; no shadow service is 503", async () => {
    const { call, shadows } = setup();
    // Over 8 KB cannot come from one valid change: the device's side fills the shadow first.
    shadows.report(deviceId("pi-5"), { note: "x".repeat(8_150) });
    const full = await call("PATCH", "/api/devices/pi-5/configuration", clinician, {
      publish: { interval_ms: 2000 },
    });
    expect(full.status).toBe(413);
    expect(await full.json()).toMatchObject({
      type: "https://medusa-link.dev/problems/shadow-too-large",
      shadow_code: 413,
    });
    const withoutShadows = setup(false);
    const r = await withoutShadows.call("GET", "/api/devices/pi-4/configuration", viewer);
    expect(r.status).toBe(503);
    expect(await r.json()).toMatchObject({
      type: "https://medusa-link.dev/problems/shadow-unavailable",
    });
    const ok = await call("PATCH", "/api/devices/pi-4/configuration", clinician, {
      publish: { interval_ms: 2000 },
    });
    expect(ok.status).toBe(202);
  });
});
