import { clockFrom, storesLayer } from "@medusa/adapters";
import { makeInMemoryStores } from "@medusa/adapters/testing";
import { encodeSampleBatch } from "@medusa/domain";
import { sampleAt, T0 } from "@medusa/domain/testing";
import { describe, expect, it } from "vitest";
import { configFromEnv } from "../config.js";
import { servicesLayer } from "../services.js";
import { ingestHandler } from "./ingest.js";

/**
 * Every payload shape under every rule SQL the lambda README documents: what
 * AWS IoT's SQL makes of a message on `medusa/medusa-pi-01/sensor/data`
 * published by client `medusa-pi-01`, and what the handler answers. The
 * README's matrix is this table.
 */
const topic = "medusa/medusa-pi-01/sensor/data";
const clientId = "medusa-pi-01";
const arrived = T0 + 2_000;

type Payload = Record<string, unknown>;
/** IoT SQL: `SELECT *` copies the message's fields; `AS` adds (or overrides) one. */
const rules: Record<string, (p: Payload) => unknown> = {
  // SELECT *, topic() AS topic, clientId() AS client_id, timestamp() AS received_at FROM 'medusa/+/sensor/data'
  recommended: (p) => ({ ...p, topic, client_id: clientId, received_at: arrived }),
  // SELECT *, topic() AS topic FROM 'medusa/+/sensor/data'
  "topic only": (p) => ({ ...p, topic }),
  // SELECT * FROM 'medusa/+/sensor/data'
  passthrough: (p) => ({ ...p }),
  // SELECT topic(2) AS device_id, timestamp, x AS accel_x, y AS accel_y, z AS accel_z,
  //        magnitude, temperature, sequence FROM 'medusa/+/sensor/data'   (the historical rule)
  historical: (p) =>
    Object.fromEntries(
      Object.entries({
        device_id: "medusa-pi-01",
        timestamp: p.timestamp,
        accel_x: p.x,
        accel_y: p.y,
        accel_z: p.z,
        magnitude: p.magnitude,
        temperature: p.temperature,
        sequence: p.sequence,
      }).filter(([, v]) => v !== undefined),
    ),
};

const reading = { x: 0.01, y: -0.02, z: 0.98, sequence: 7 };
const payloads: Record<string, Payload> = {
  "native batch": JSON.parse(encodeSampleBatch([sampleAt(T0, 1), sampleAt(T0 + 100, 2)])),
  "single reading": { ...reading, magnitude: 0.9803, timestamp: T0 },
  "single reading, no time": reading,
  "flattened reading": {
    device_id: "medusa-pi-01",
    timestamp: T0 / 1000,
    accel_x: 0.01,
    accel_y: -0.02,
    accel_z: 0.98,
    magnitude: 0.9803,
    temperature: 24,
    sequence: 7,
    ttl: 1,
  },
};

/** Stored with its format, or refused with its reason. */
const matrix: Record<string, Record<string, string>> = {
  "native batch": {
    recommended: "stored batch",
    "topic only": "stored batch",
    passthrough: "event has no topic",
    historical: "invalid historical reading",
  },
  "single reading": {
    recommended: "stored single",
    "topic only": "stored single",
    passthrough: "event has no topic",
    historical: "stored historical",
  },
  "single reading, no time": {
    recommended: "stored single",
    "topic only": "stored single",
    passthrough: "event has no topic",
    historical: "invalid historical reading",
  },
  "flattened reading": {
    recommended: "stored historical",
    "topic only": "stored historical",
    passthrough: "stored historical",
    historical: "invalid historical reading",
  },
};

const handler = () =>
  ingestHandler(
    configFromEnv({}),
    servicesLayer(storesLayer(makeInMemoryStores()), {
      cacheTtlMs: 30_000,
      clock: clockFrom(() => arrived + 500),
    }),
  );

describe("every documented payload under every documented rule SQL", () => {
  for (const [shape, payload] of Object.entries(payloads))
    for (const [rule, sql] of Object.entries(rules))
      it(`${shape} × ${rule}: ${matrix[shape]?.[rule]}`, async () => {
        const r = await handler()(sql(payload));
        const body = JSON.parse(r.body) as { format?: string; reason?: string };
        expect(r.statusCode === 200 ? `stored ${body.format}` : body.reason).toBe(
          matrix[shape]?.[rule],
        );
      });

  it("a flattened reading naming another device than its topic or its publisher is refused, under any rule", async () => {
    const other = { ...payloads["flattened reading"], device_id: "medusa-pi-99" };
    const answers = await Promise.all(
      [rules.recommended, rules["topic only"]].map(async (sql) =>
        JSON.parse((await handler()(sql?.(other))).body),
      ),
    );
    expect(answers.map((a) => a.reason)).toEqual([
      "device id mismatch between topic and device_id",
      "device id mismatch between topic and device_id",
    ]);
    const fromAnother = await handler()({ ...other, client_id: "medusa-pi-01" });
    expect(JSON.parse(fromAnother.body).reason).toBe(
      "device id mismatch between device_id and client id",
    );
  });
});
