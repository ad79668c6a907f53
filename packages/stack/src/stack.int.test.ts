import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AedesPublishPacket, BrokerClient } from "@medusa/adapters/broker";
import { connectTransport, NotConnected } from "@medusa/adapters/mqtt";
import {
  type EpochMillis,
  encodeSampleBatch,
  parseSensorPayload,
  type Sample,
  samplesOf,
} from "@medusa/domain";
import { Effect, Either } from "effect";
import { afterAll, expect, it } from "vitest";
import { type Stack, startStack } from "./stack.js";
import { api, eventually, sleep } from "./testing/stack-client.js";

const dir = mkdtempSync(join(tmpdir(), "medusa-stack-"));
let stack: Stack | undefined;
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const start = () =>
  startStack({
    dir,
    devices: 2,
    apiPort: 0,
    mqttPort: 0,
    dynamoPort: 0,
    publishIntervalMs: 500,
    settleMs: 1_000,
  });

interface TimelineSample {
  readonly device_id: string;
  readonly timestamp: number;
  readonly sequence: number;
}

/** Every page of a patient's timeline. */
const timeline = async (s: Stack, patient: string, from: number, to: number) => {
  const all: Array<TimelineSample> = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({
      start_time: String(from),
      end_time: String(to),
      limit: "500",
      ...(cursor ? { cursor } : {}),
    });
    const page = await api(s, "GET", `/api/patients/${patient}/sensor-data?${query}`);
    expect(page.status).toBe(200);
    all.push(...(page.json.data as Array<TimelineSample>));
    cursor = page.json.next_cursor as string | null;
  } while (cursor);
  return all;
};

const key = (s: { readonly timestamp: number; readonly sequence: number }) =>
  `${s.sequence}@${s.timestamp}`;

it("attributes every published sample to the patient who wore the device, across a reassignment, a late batch and a restart", async () => {
  stack = await start();
  const s = stack;
  const [a, b] = s.deviceIds as [string, string];

  // What device A actually published, as the broker accepted it.
  const published = new Map<string, Sample>();
  s.broker.aedes.on("publish", (packet: AedesPublishPacket, client: BrokerClient | null) => {
    if (client?.id !== a || packet.topic !== `medusa/${a}/sensor/data`) return;
    const decoded = parseSensorPayload(packet.payload.toString());
    if (Either.isRight(decoded))
      for (const sample of samplesOf(decoded.right, Date.now())) published.set(key(sample), sample);
  });
  await eventually(() => published.size > 0, "device A's first batch");

  const assigned = await api(s, "POST", "/api/devices/assign", {
    device_id: a,
    patient_id: "P1",
    patient_name: "Patient One",
  });
  expect(assigned.status).toBe(201);
  const t1 = (assigned.json.assignment as { assignment_timestamp: number }).assignment_timestamp;
  await sleep(2_500);
  const reassigned = await api(s, "POST", "/api/devices/reassign", {
    device_id: a,
    patient_id: "P2",
    patient_name: "Patient Two",
  });
  expect(reassigned.status).toBe(201);
  const t2 = (reassigned.json.assignment as { assignment_timestamp: number }).assignment_timestamp;
  expect(t2 - t1).toBeGreaterThan(2_000);

  await sleep(1_500);
  // A stops (its outbox drains on the way) and, back in range, delivers a batch it took
  // before the reassignment: a late batch, under its own identity.
  await s.devices[0]?.stop();
  const late = Array.from(
    { length: 5 },
    (_, i): Sample => ({
      timestamp: (t2 - 1_003 + i * 100) as EpochMillis,
      sequence: 9_000_000 + i,
      x: 0.01,
      y: 0.02,
      z: 0.99,
      magnitude: Math.sqrt(0.01 ** 2 + 0.02 ** 2 + 0.99 ** 2),
    }),
  );
  const asA = connectTransport({
    host: "127.0.0.1",
    port: s.mqttPort,
    clientId: a,
    ...s.certificates(a),
    backoff: { baseMs: 50, capMs: 200 },
  });
  await asA.waitConnected();
  await asA.publish(`medusa/${a}/sensor/data`, encodeSampleBatch(late));
  // Malformed input is kept with its reason.
  await asA.publish(`medusa/${a}/sensor/data`, "{not json");
  await asA.publish(`medusa/${a}/sensor/data`, JSON.stringify({ x: 40, y: 0, z: 0, sequence: 1 }));
  // A device may not publish as another one: refused, and its connection closed.
  await expect(asA.publish(`medusa/${b}/sensor/data`, encodeSampleBatch(late))).rejects.toThrow(
    NotConnected,
  );
  await asA.close();
  expect(s.broker.refusals).toContainEqual(
    expect.objectContaining({ action: "publish", client_id: a, topic: `medusa/${b}/sensor/data` }),
  );

  await eventually(() => s.ingest.stats().queued === 0, "the ingest queue to empty");
  await sleep(1_500); // re-attribution's second pass (settle 1 s)

  const letters = (await Effect.runPromise(s.stores.deadLetters.recent(20))).filter(
    (l) => l.clientId === a,
  );
  expect(letters).toContainEqual(
    expect.objectContaining({
      topic: `medusa/${a}/sensor/data`,
      reason: "payload is not JSON",
      payload: "{not json",
    }),
  );
  expect(letters.flatMap((l) => l.issues.map((i) => i.path))).toContain("x"); // 40 g is out of range

  const expected = (from: number, to: number) =>
    [...published.values()]
      .filter((x) => x.timestamp >= from && x.timestamp < to)
      .map(key)
      .sort();
  const windowStart = t1 - 60_000;
  const windowEnd = Date.now() + 1_000;
  const p1 = await timeline(s, "P1", windowStart, windowEnd);
  const p2 = await timeline(s, "P2", windowStart, windowEnd);
  expect(p1.every((x) => x.device_id === a)).toBe(true);
  expect(p2.every((x) => x.device_id === a)).toBe(true);
  // Exactly A's samples inside each interval: none lost, none doubled, none on the wrong side.
  expect(p1.map(key).sort()).toEqual(expected(t1, t2));
  expect(p2.map(key).sort()).toEqual(expected(t2, Number.MAX_SAFE_INTEGER));
  for (const x of late) expect(p1.map(key)).toContain(key(x));
  expect(p1.length).toBeGreaterThan(20);
  expect(p2.length).toBeGreaterThan(10);

  // Stopped and started again: every assignment and sample is still there.
  await s.stop();
  stack = await start();
  const again = stack;
  const current = await api(again, "GET", `/api/devices/${a}/patient`);
  expect(current.json).toMatchObject({ device_id: a, patient: { patient_id: "P2" } });
  const trail = await api(again, "GET", `/api/devices/${a}/assignments`);
  expect(
    (trail.json.assignments as Array<{ patient_id: string }>).map((x) => x.patient_id),
  ).toEqual(["P2", "P1"]);
  expect((await timeline(again, "P1", windowStart, windowEnd)).map(key).sort()).toEqual(
    p1.map(key).sort(),
  );
  const p2Again = (await timeline(again, "P2", windowStart, windowEnd)).map(key);
  expect(p2Again).toEqual(expect.arrayContaining(p2.map(key)));
});
