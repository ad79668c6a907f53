import { deviceId, epochMillis, initialDeviceStatus, segmentKey, UNASSIGNED } from "@medusa/domain";
import { sampleAt } from "@medusa/domain/testing";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiOnDynamoLocal, apiOnDynamoLocal } from "./testing/on-dynamo-local.js";

// The Devices page's read: GET /api/devices for a fleet of 200 on DynamoDB Local, timed, with
// every DynamoDB request counted. Each device's newest sample time is in its status row, so the
// page is one Scan of the status table and the open alerts, not a query per device.
const DEVICES = 200;
const T = Date.UTC(2030, 0, 7, 12);

let api: ApiOnDynamoLocal;
const requests = new Map<string, number>();
let counting = false;

beforeAll(async () => {
  api = await apiOnDynamoLocal();
  const { client, stores } = api;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (counting) {
        const input = args.input as { TableName?: string };
        const key = `${context.commandName} ${input.TableName?.replace(/^t[0-9a-f]{8}-/, "") ?? ""}`;
        requests.set(key, (requests.get(key) ?? 0) + 1);
      }
      return next(args);
    },
    { step: "initialize", name: "countRequests" },
  );
  for (let i = 0; i < DEVICES; i += 20)
    await Promise.all(
      Array.from({ length: 20 }, async (_, j) => {
        const d = deviceId(`fleet-${String(i + j).padStart(3, "0")}`);
        const at = T + (i + j) * 1_000;
        const samples = [sampleAt(at, 1)];
        await Effect.runPromise(
          stores.sensors.write([
            {
              deviceId: d,
              patientId: UNASSIGNED,
              patientName: null,
              assignmentStart: epochMillis(0),
              samples,
              key: segmentKey(samples),
              attributedVersion: 1,
              ttl: Math.ceil(at / 1000) + 86_400,
            },
          ]),
        );
        await Effect.runPromise(
          stores.deviceStatuses.save(
            { ...initialDeviceStatus(d), lastSampleAt: epochMillis(at) },
            0,
          ),
        );
      }),
    );
}, 300_000);
afterAll(() => api.close());

describe("the fleet read", () => {
  it(`${DEVICES} devices in one page: the status rows and the open alerts, no request per device`, async () => {
    const read = () =>
      api.app.request("/api/devices?limit=500", {
        headers: { authorization: `Bearer ${api.viewer}` },
      });
    await read(); // warm
    const times: Array<number> = [];
    for (let i = 0; i < 5; i++) {
      requests.clear();
      counting = true;
      const started = performance.now();
      const res = await read();
      const body = (await res.json()) as {
        devices: Array<{ device_id: string; last_sample: number | null }>;
      };
      times.push(performance.now() - started);
      counting = false;
      expect(res.status).toBe(200);
      expect(body.devices).toHaveLength(DEVICES);
      expect(body.devices.find((d) => d.device_id === "fleet-123")?.last_sample).toBe(T + 123_000);
    }
    const total = [...requests.values()].reduce((a, b) => a + b, 0);
    const median = [...times].sort((a, b) => a - b)[2] as number;
    console.log(
      `fleet read, ${DEVICES} devices: median ${median.toFixed(0)} ms (${times.map((t) => t.toFixed(0)).join(", ")}); DynamoDB requests a read: ${total} (${[...requests].map(([k, v]) => `${k} ×${v}`).join(", ")})`,
    );
    // One Scan of the status table, and the open alerts' query: nothing per device.
    expect(total).toBeLessThanOrEqual(4);
    expect([...requests.keys()].some((k) => k.includes("sensor"))).toBe(false);
  }, 120_000);
});
