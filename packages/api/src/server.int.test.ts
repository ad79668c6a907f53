import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import {
  type DynamoStores,
  intervalCacheLayer,
  localCredentials,
  makeDynamoClient,
  makeDynamoStores,
  storesLayer,
  systemClock,
  tableNames,
} from "@medusa/adapters";
import { testTables } from "@medusa/adapters/testing";
import {
  deviceId,
  enrich,
  epochMillis,
  ingestMessages,
  type Sample,
  type StoredSegment,
  segmentKey,
} from "@medusa/domain";
import { Effect, Layer } from "effect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createApp } from "./app.js";
import { apiSuite, portsOf } from "./testing/app-suite.js";
import { signToken, testAuth } from "./testing/index.js";

/** Every route and error path of the shared suite, over HTTP, on fresh DynamoDB Local tables per test. */
apiSuite(
  "over HTTP on DynamoDB Local",
  async () => {
    const t = await testTables(inject("dynamoEndpoint"));
    // A client of a database that is not there: connection refused, at once.
    const nowhere = makeDynamoClient({
      endpoint: "http://127.0.0.1:9",
      region: "local",
      credentials: localCredentials,
      maxAttempts: 1,
    });
    return {
      stores: makeDynamoStores({ client: t.client, tables: t.tables }),
      broken: makeDynamoStores({ client: nowhere, tables: tableNames() }),
      serve: async (app) => {
        const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
        await new Promise((r) => server.once("listening", r));
        const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        return {
          fetch: (path, init) => fetch(`${base}${path}`, init),
          close: () => new Promise<void>((r) => server.close(() => r())),
        };
      },
      teardown: async () => {
        nowhere.destroy();
        await t.drop();
      },
    };
  },
  // Each case is a few HTTP requests on DynamoDB Local: a smaller run than in memory.
  { numRuns: 100 },
);

let stores: DynamoStores;
let base: string;
let close: () => Promise<void>;
let clinician: string;
let viewer: string;

beforeAll(async () => {
  const t = await testTables(inject("dynamoEndpoint"));
  stores = makeDynamoStores({ client: t.client, tables: t.tables });
  const app = createApp({ layer: portsOf(stores), authenticate: testAuth(), log: () => {} });
  const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" });
  await new Promise((r) => server.once("listening", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = async () => {
    await new Promise((r) => server.close(r));
    await t.drop();
  };
  clinician = await signToken({ email: "nurse@clinic.example", roles: ["clinician"] });
  viewer = await signToken({ email: "viewer@clinic.example", roles: ["viewer"] });
});
afterAll(() => close());

const http = async (
  method: string,
  path: string,
  body?: unknown,
  token = clinician,
  headers: Record<string, string> = {},
) => {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  return {
    status: r.status,
    body: (await r.json()) as Record<string, unknown>,
    headers: r.headers,
  };
};

/** Stores samples as ingest would: attributed by event time with the device's intervals. */
const deliver = async (device: string, samples: ReadonlyArray<Sample>) => {
  const id = deviceId(device);
  // The mapping rows, less those entered in error: the intervals samples belong to.
  const rows = await Effect.runPromise(stores.readModel.deviceIntervals(id));
  const intervals = rows.filter((r) => !r.retracted);
  const segments: Array<StoredSegment> = enrich(id, samples, intervals).map((s) => ({
    ...s,
    key: segmentKey(s.samples),
    attributedVersion: 0,
  }));
  await Effect.runPromise(stores.sensors.write(segments));
};
const samplesAt = (from: number, count: number, seq0: number): Array<Sample> =>
  Array.from({ length: count }, (_, i) => ({
    timestamp: epochMillis(from + i * 100),
    sequence: seq0 + i,
    x: 0.01,
    y: 0.02,
    z: 0.98,
    magnitude: Math.hypot(0.01, 0.02, 0.98),
  }));

describe("the API over HTTP on DynamoDB Local", () => {
  it("assign → reassign → late samples: both patients' timelines are disjoint and complete", async () => {
    const device = `int-pi-${Date.now()}`;
    const t0 = Date.now() - 600_000;
    expect(
      (
        await http("POST", "/api/devices/assign", {
          device_id: device,
          patient_id: "P-A",
          patient_name: "A",
          assignment_timestamp: t0,
        })
      ).status,
    ).toBe(201);
    await deliver(device, samplesAt(t0, 100, 0)); // t0 .. t0+9.9 s
    const handover = t0 + 20_000;
    expect(
      (
        await http("POST", "/api/devices/reassign", {
          device_id: device,
          patient_id: "P-B",
          patient_name: "B",
          assignment_timestamp: handover,
        })
      ).status,
    ).toBe(201);
    await deliver(device, samplesAt(handover, 100, 200)); // after the hand-over
    await deliver(device, samplesAt(t0 + 10_000, 100, 100)); // late: taken before the hand-over, delivered after
    const timeline = async (patient: string) => {
      const seen: Array<number> = [];
      let cursor: string | null = null;
      do {
        const page: { status: number; body: Record<string, unknown> } = await http(
          "POST",
          `/api/patients/${patient}/sensor-data`,
          { start_time: t0 - 1, end_time: t0 + 600_000, limit: 37, ...(cursor ? { cursor } : {}) },
          viewer,
        );
        expect(page.status).toBe(200);
        seen.push(...(page.body.data as Array<{ sequence: number }>).map((s) => s.sequence));
        cursor = page.body.next_cursor as string | null;
      } while (cursor);
      return seen.sort((a, b) => a - b);
    };
    expect(await timeline("P-A")).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(await timeline("P-B")).toEqual(Array.from({ length: 100 }, (_, i) => 200 + i));
    const history = await http(
      "GET",
      "/api/patients/P-A/devices?include=history",
      undefined,
      viewer,
    );
    expect(history.body.devices).toEqual([
      expect.objectContaining({ device_id: device, assignment_end: handover, status: "completed" }),
    ]);
  });

  it("a sample's magnitude is the device's own when it sent one, bit for bit; computed from the axes otherwise", async () => {
    const device = `mag-pi-${Date.now()}`;
    const t0 = Date.now() - 60_000;
    expect(
      (
        await http("POST", "/api/devices/assign", {
          device_id: device,
          patient_id: "P-MAG",
          assignment_timestamp: t0,
        })
      ).status,
    ).toBe(201);
    // As an older device publishes: one reading a message, its magnitude rounded to four places, or none.
    const readings = [
      { x: 0.012, y: -0.023, z: 0.984, magnitude: 0.9843, sequence: 1, timestamp: t0 + 1_000 },
      { x: 0.011, y: -0.021, z: 0.986, sequence: 2, timestamp: t0 + 1_100 },
    ];
    const ports = Layer.merge(storesLayer(stores), systemClock);
    const outcomes = await Effect.runPromise(
      ingestMessages(
        readings.map((r) => ({
          topic: `medusa/${device}/sensor/data`,
          clientId: device,
          receivedAt: t0 + 2_000,
          payload: JSON.stringify(r),
        })),
        { topicTemplate: "medusa/{device_id}/sensor/data", source: "test" },
      ).pipe(Effect.provide(Layer.merge(ports, intervalCacheLayer(0).pipe(Layer.provide(ports))))),
    );
    expect(outcomes.map((o) => o._tag)).toEqual(["Stored", "Stored"]);
    const page = await http(
      "GET",
      `/api/patients/P-MAG/sensor-data?start_time=${t0}&end_time=${t0 + 60_000}`,
      undefined,
      viewer,
    );
    expect(page.body.data).toEqual([
      expect.objectContaining({ sequence: 1, magnitude: 0.9843 }),
      expect.objectContaining({ sequence: 2, magnitude: Math.hypot(0.011, -0.021, 0.986) }),
    ]);
  });

  it("20 concurrent assigns of one device: exactly one 201", async () => {
    const device = `race-pi-${Date.now()}`;
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, k) =>
        http("POST", "/api/devices/assign", {
          device_id: device,
          patient_id: `P${k}`,
          patient_name: "x",
        }),
      ),
    );
    // Anything but one 201 and nineteen 409s is shown with its body.
    const odd = results.filter((r) => r.status !== 201 && r.status !== 409);
    expect(odd.map((r) => [r.status, r.body])).toEqual([]);
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
    const trail = await http("GET", `/api/devices/${device}/assignments`, undefined, viewer);
    expect(trail.body.assignments).toHaveLength(1);
  });

  it("the same Idempotency-Key: the same response and one event", async () => {
    const device = `idem-pi-${Date.now()}`;
    const body = { device_id: device, patient_id: "P1", patient_name: "x" };
    const first = await http("POST", "/api/devices/assign", body, clinician, {
      "idempotency-key": "abc",
    });
    const again = await http("POST", "/api/devices/assign", body, clinician, {
      "idempotency-key": "abc",
    });
    expect([again.status, again.body]).toEqual([first.status, first.body]);
    const stream = await Effect.runPromise(stores.events.load(deviceId(device)));
    expect(stream.commits).toHaveLength(1);
  });

  it("a viewer cannot assign; malformed JSON is a 400 problem", async () => {
    const denied = await http(
      "POST",
      "/api/devices/assign",
      { device_id: "v-pi", patient_id: "P1", patient_name: "x" },
      viewer,
    );
    expect(denied.status).toBe(403);
    const malformed = await fetch(`${base}/api/devices/assign`, {
      method: "POST",
      headers: { authorization: `Bearer ${clinician}`, "content-type": "application/json" },
      body: "{nope",
    });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get("content-type")).toBe("application/problem+json");
  });
});
