import {
  intervalCacheLayer,
  localCredentials,
  makeDynamoClient,
  makeDynamoStores,
  storesLayer,
  systemClock,
  tableNames,
} from "@medusa/adapters";
import { testTables } from "@medusa/adapters/testing";
import { deviceId, epochMillis, ingestMessages, type Sample } from "@medusa/domain";
import { Effect, Layer } from "effect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { apiSuite } from "./testing/app-suite.js";
import {
  type ApiOnDynamoLocal,
  apiOnDynamoLocal,
  serveOnLoopback,
} from "./testing/on-dynamo-local.js";

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
        const { base, close } = await serveOnLoopback(app);
        return {
          fetch: (path, init) => fetch(`${base}${path}`, init),
          close,
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

let api: ApiOnDynamoLocal;
beforeAll(async () => {
  api = await apiOnDynamoLocal();
});
afterAll(() => api.close());

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
        await api.http("POST", "/api/devices/assign", {
          device_id: device,
          patient_id: "P-A",
          patient_name: "A",
          assignment_timestamp: t0,
        })
      ).status,
    ).toBe(201);
    await api.deliver(device, samplesAt(t0, 100, 0)); // t0 .. t0+9.9 s
    const handover = t0 + 20_000;
    expect(
      (
        await api.http("POST", "/api/devices/reassign", {
          device_id: device,
          patient_id: "P-B",
          patient_name: "B",
          assignment_timestamp: handover,
        })
      ).status,
    ).toBe(201);
    await api.deliver(device, samplesAt(handover, 100, 200)); // after the hand-over
    await api.deliver(device, samplesAt(t0 + 10_000, 100, 100)); // late: taken before the hand-over, delivered after
    const timeline = async (patient: string) => {
      const seen: Array<number> = [];
      let cursor: string | null = null;
      do {
        const page: { status: number; body: Record<string, unknown> } = await api.http(
          "POST",
          `/api/patients/${patient}/sensor-data`,
          { start_time: t0 - 1, end_time: t0 + 600_000, limit: 37, ...(cursor ? { cursor } : {}) },
          api.viewer,
        );
        expect(page.status).toBe(200);
        seen.push(...(page.body.data as Array<{ sequence: number }>).map((s) => s.sequence));
        cursor = page.body.next_cursor as string | null;
      } while (cursor);
      return seen.sort((a, b) => a - b);
    };
    expect(await timeline("P-A")).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(await timeline("P-B")).toEqual(Array.from({ length: 100 }, (_, i) => 200 + i));
    const history = await api.http(
      "GET",
      "/api/patients/P-A/devices?include=history",
      undefined,
      api.viewer,
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
        await api.http("POST", "/api/devices/assign", {
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
    const ports = Layer.merge(storesLayer(api.stores), systemClock);
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
    const page = await api.http(
      "GET",
      `/api/patients/P-MAG/sensor-data?start_time=${t0}&end_time=${t0 + 60_000}`,
      undefined,
      api.viewer,
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
        api.http("POST", "/api/devices/assign", {
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
    const trail = await api.http(
      "GET",
      `/api/devices/${device}/assignments`,
      undefined,
      api.viewer,
    );
    expect(trail.body.assignments).toHaveLength(1);
  });

  it("the same Idempotency-Key: the same response and one event", async () => {
    const device = `idem-pi-${Date.now()}`;
    const body = { device_id: device, patient_id: "P1", patient_name: "x" };
    const first = await api.http("POST", "/api/devices/assign", body, api.clinician, {
      "idempotency-key": "abc",
    });
    const again = await api.http("POST", "/api/devices/assign", body, api.clinician, {
      "idempotency-key": "abc",
    });
    expect([again.status, again.body]).toEqual([first.status, first.body]);
    const stream = await Effect.runPromise(api.stores.events.load(deviceId(device)));
    expect(stream.commits).toHaveLength(1);
  });

  it("a viewer cannot assign; malformed JSON is a 400 problem", async () => {
    const denied = await api.http(
      "POST",
      "/api/devices/assign",
      { device_id: "v-pi", patient_id: "P1", patient_name: "x" },
      api.viewer,
    );
    expect(denied.status).toBe(403);
    const malformed = await fetch(`${api.base}/api/devices/assign`, {
      method: "POST",
      headers: { authorization: `Bearer ${api.clinician}`, "content-type": "application/json" },
      body: "{nope",
    });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get("content-type")).toBe("application/problem+json");
  });
});
