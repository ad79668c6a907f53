import { epochMillis, type Sample } from "@medusa/domain";
import { tableFromIPC } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiOnDynamoLocal, apiOnDynamoLocal } from "./testing/on-dynamo-local.js";

const ARROW = "application/vnd.apache.arrow.stream";

let api: ApiOnDynamoLocal;
beforeAll(async () => {
  api = await apiOnDynamoLocal();
});
afterAll(() => api.close());

const call = (
  method: string,
  path: string,
  { accept, body, token = api.viewer }: { accept?: string; body?: unknown; token?: string } = {},
) =>
  fetch(`${api.base}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      ...(accept !== undefined ? { accept } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });

const samplesAt = (from: number, count: number, seq0: number): Array<Sample> =>
  Array.from({ length: count }, (_, i) => ({
    timestamp: epochMillis(from + i * 100),
    sequence: seq0 + i,
    x: i % 7 === 0 ? -0 : 0.01 * i,
    y: -0.02,
    z: 0.98,
    magnitude: Math.hypot(0.01 * i, 0.02, 0.98),
    ...(i % 3 === 0 ? { temperature: 30 + i / 10 } : {}),
  }));

/** Two devices worn one after the other by the patient: 130 + 90 samples. */
const patientWithTwoDevices = async (patient: string) => {
  const a = `arrow-a-${patient}`;
  const b = `arrow-b-${patient}`;
  const t0 = Date.now() - 600_000;
  const assign = async (device: string, at: number, path = "/api/devices/assign") =>
    expect(
      (
        await call("POST", path, {
          token: api.clinician,
          body: { device_id: device, patient_id: patient, assignment_timestamp: at },
        })
      ).status,
    ).toBe(201);
  await assign(a, t0);
  await api.deliver(a, samplesAt(t0, 130, 0));
  expect(
    (
      await call("POST", "/api/devices/unassign", {
        token: api.clinician,
        body: { device_id: a, patient_id: patient, assignment_end: t0 + 20_000 },
      })
    ).status,
  ).toBe(200);
  await assign(b, t0 + 20_000);
  await api.deliver(b, samplesAt(t0 + 20_000, 90, 1000));
  return { t0, a, b };
};

type Row = { device_id: string; timestamp: number; sequence: number; temperature?: number };

describe("GET and POST /api/patients/{id}/sensor-data as Arrow, on DynamoDB Local", () => {
  it("pages through the cursor as the JSON does: the same samples, the same pages, the cursor in the metadata and X-Next-Cursor", async () => {
    const { t0, a, b } = await patientWithTwoDevices("P-ARROW-1");
    const range = { start_time: t0 - 1, end_time: t0 + 600_000 };
    const readAll = async (arrow: boolean, method: "GET" | "POST") => {
      const pages: Array<Array<Row>> = [];
      let cursor: string | null = null;
      do {
        const fields = { ...range, limit: 37, ...(cursor ? { cursor } : {}) };
        const query = new URLSearchParams(
          Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)]),
        ).toString();
        const r: Response =
          method === "GET"
            ? await call("GET", `/api/patients/P-ARROW-1/sensor-data?${query}`, {
                ...(arrow ? { accept: ARROW } : {}),
              })
            : await call("POST", "/api/patients/P-ARROW-1/sensor-data", {
                body: fields,
                ...(arrow ? { accept: ARROW } : {}),
              });
        expect(r.status).toBe(200);
        if (arrow) {
          expect(r.headers.get("content-type")).toBe(ARROW);
          const table = tableFromIPC(new Uint8Array(await r.arrayBuffer()));
          const meta = table.schema.metadata;
          expect(meta.get("patient_id")).toBe("P-ARROW-1");
          expect(meta.get("count")).toBe(String(table.numRows));
          const next = meta.get("next_cursor") ?? null;
          expect(r.headers.get("x-next-cursor")).toBe(next);
          pages.push(
            table.toArray().map((row) => {
              const o = row.toJSON() as Record<string, unknown>;
              return {
                device_id: o.device_id as string,
                timestamp: Number(o.timestamp),
                sequence: Number(o.sequence as bigint),
                ...(o.temperature !== null ? { temperature: o.temperature as number } : {}),
              };
            }),
          );
          cursor = next;
        } else {
          expect(r.headers.get("content-type")).toMatch(/^application\/json/);
          const body = (await r.json()) as { data: Array<Row>; next_cursor: string | null };
          pages.push(
            body.data.map((s) => ({
              device_id: s.device_id,
              timestamp: s.timestamp,
              sequence: s.sequence,
              ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
            })),
          );
          cursor = body.next_cursor;
        }
      } while (cursor);
      return pages;
    };
    const arrowPages = await readAll(true, "GET");
    expect(arrowPages.flat()).toHaveLength(220);
    expect(arrowPages.length).toBeGreaterThan(5);
    expect(arrowPages.flat().map((s) => s.sequence)).toEqual([
      ...Array.from({ length: 130 }, (_, i) => i),
      ...Array.from({ length: 90 }, (_, i) => 1000 + i),
    ]);
    expect(new Set(arrowPages.flat().map((s) => s.device_id))).toEqual(new Set([a, b]));
    expect(arrowPages).toEqual(await readAll(false, "GET"));
    expect(await readAll(true, "POST")).toEqual(arrowPages);
  });

  it("the device's values bit for bit: -0 stays -0 in Arrow (JSON writes 0)", async () => {
    const { t0 } = await patientWithTwoDevices("P-ARROW-2");
    const r = await call(
      "GET",
      `/api/patients/P-ARROW-2/sensor-data?start_time=${t0}&end_time=${t0 + 1_000}`,
      { accept: ARROW },
    );
    const table = tableFromIPC(new Uint8Array(await r.arrayBuffer()));
    expect(table.numRows).toBe(10);
    expect(Object.is(table.getChild("accel_x")?.get(0), -0)).toBe(true);
    expect(table.getChild("accel_x")?.get(1)).toBe(0.01);
    expect(table.getChild("magnitude")?.get(3)).toBe(Math.hypot(0.03, 0.02, 0.98));
    expect(table.getChild("temperature")?.get(3)).toBe(30.3);
    expect(table.getChild("temperature")?.get(1)).toBeNull();
    expect(table.getChild("timestamp")?.get(2)).toBe(t0 + 200);
    expect(table.schema.metadata.has("next_cursor")).toBe(false);
    expect(r.headers.get("x-next-cursor")).toBeNull();
  });

  it("JSON unless Arrow is asked for: no Accept, */*, an unknown type, CSV", async () => {
    const path =
      "/api/patients/P-ARROW-3/sensor-data?start_time=1700000000000&end_time=1700000060000";
    for (const accept of [undefined, "*/*", "application/x-unknown", "text/csv"]) {
      const r = await call("GET", path, accept === undefined ? {} : { accept });
      expect([accept, r.status, r.headers.get("content-type")]).toEqual([
        accept,
        200,
        "application/json",
      ]);
      expect(await r.json()).toEqual({
        patient_id: "P-ARROW-3",
        data: [],
        count: 0,
        next_cursor: null,
      });
    }
    const arrow = await call("GET", path, { accept: `application/json;q=0.1, ${ARROW}` });
    expect(arrow.headers.get("content-type")).toBe(ARROW);
    expect(arrow.headers.get("vary")).toMatch(/accept/i);
    expect(tableFromIPC(new Uint8Array(await arrow.arrayBuffer())).numRows).toBe(0);
  });

  it("errors stay problem+json when Arrow is asked for: bad input, a forged cursor, a missing token", async () => {
    const bad = await call("GET", "/api/patients/P-ARROW-4/sensor-data?start_time=x", {
      accept: ARROW,
    });
    expect(bad.status).toBe(400);
    expect(bad.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(await bad.json()).toMatchObject({ status: 400 });
    const forged = await call(
      "GET",
      "/api/patients/P-ARROW-4/sensor-data?start_time=1700000000000&end_time=1700000060000&cursor=forged",
      { accept: ARROW },
    );
    expect(forged.status).toBe(400);
    expect(forged.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const tooMany = await call("POST", "/api/patients/P-ARROW-4/sensor-data", {
      accept: ARROW,
      body: { start_time: 1700000000000, end_time: 1700000060000, limit: 1_000_000 },
    });
    expect(tooMany.status).toBe(400);
    expect(tooMany.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const anonymous = await fetch(
      `${api.base}/api/patients/P-ARROW-4/sensor-data?start_time=1700000000000&end_time=1700000060000`,
      { headers: { accept: ARROW } },
    );
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });
});
