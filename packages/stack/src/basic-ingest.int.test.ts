import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NotConnected } from "@medusa/adapters/mqtt";
import { parseSensorPayload, type Sample, samplesOf } from "@medusa/domain";
import { Effect, Either } from "effect";
import { afterAll, expect, it } from "vitest";
import { CLOUD_IDENTITY, INGEST_RULE_NAME, type Stack, startStack } from "./stack.js";
import { api, connectAs, eventually, sampleKey as key, sleep } from "./testing/stack-client.js";

const dir = mkdtempSync(join(tmpdir(), "medusa-basic-ingest-"));
let stack: Stack | undefined;
afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("an agent configured with Basic Ingest: its samples reach the ingest's rule only, and are stored and attributed", async () => {
  const log: Array<Record<string, unknown>> = [];
  stack = await startStack({
    dir,
    devices: 1,
    basicIngest: true,
    apiPort: 0,
    mqttPort: 0,
    dynamoPort: 0,
    publishIntervalMs: 500,
    settleMs: 1_000,
    log: (entry) => log.push(entry),
  });
  const s = stack;
  const [id] = s.deviceIds as [string];
  const plain = `${s.topicPrefix}/${id}/sensor/data`;
  const basicIngest = `$aws/rules/${INGEST_RULE_NAME}/${plain}`;
  expect(s.basicIngestRule).toBe(INGEST_RULE_NAME);
  expect(s.devices[0]?.config.topics.sensorData).toBe(basicIngest);

  // What the device published, as the broker accepted it: every sensor message on the Basic Ingest topic.
  const topics = new Set<string>();
  const published = new Map<string, Sample>();
  s.broker.aedes.on("publish", (packet, client) => {
    if (client?.id !== id || !packet.topic.endsWith("/sensor/data")) return;
    topics.add(packet.topic);
    const decoded = parseSensorPayload(packet.payload.toString());
    if (Either.isRight(decoded))
      for (const sample of samplesOf(decoded.right, Date.now())) published.set(key(sample), sample);
  });
  // A cloud service subscribed to everything it may: no sensor message reaches it.
  const cloud = connectAs(s, CLOUD_IDENTITY);
  const overheard: Array<string> = [];
  await cloud.waitConnected();
  for (const filter of ["#", "$aws/#"])
    await cloud.subscribe(filter, (topic) => {
      if (topic.endsWith("/sensor/data")) overheard.push(topic);
    });
  await eventually(() => published.size > 0, "the device's first batch");

  const assigned = await api(s, "POST", "/api/devices/assign", { device_id: id, patient_id: "P1" });
  expect(assigned.status).toBe(201);
  const t1 = (assigned.json.assignment as { assignment_timestamp: number }).assignment_timestamp;
  await sleep(2_500);
  await s.devices[0]?.stop(); // its outbox drains on the way

  // Under its own identity, a malformed message through Basic Ingest: its dead letter carries
  // the topic as the rule's topic() gives it, without $aws/rules/{rule}/.
  const asDevice = connectAs(s, id);
  await asDevice.waitConnected();
  await asDevice.publish(basicIngest, "{not json");
  // The policy's rights hold behind the prefix: another rule is refused and costs the connection.
  await expect(asDevice.publish(`$aws/rules/other_rule/${plain}`, "{not json")).rejects.toThrow(
    NotConnected,
  );
  await asDevice.close();
  // A rule that does not exist (a cloud service may name any): dropped, counted and logged.
  await cloud.publish(`$aws/rules/no_such_rule/${plain}`, "{}");

  await eventually(() => s.ingest.stats().queued === 0, "the ingest queue to empty");
  await eventually(() => s.broker.rules.stats().ruleNotFound === 1, "the unknown rule's drop");
  await sleep(1_500); // re-attribution's second pass (settle 1 s)
  await cloud.close();

  expect(topics).toEqual(new Set([basicIngest]));
  expect(overheard).toEqual([]);
  expect(s.broker.rules.stats()).toMatchObject({ ruleNotFound: 1, unmatched: 0 });
  expect(s.broker.rules.stats().delivered).toBeGreaterThanOrEqual(5);
  expect(s.ingest.stats()).toMatchObject({ failed: 0, parked: 0, rejected: 1 });
  expect(log).toContainEqual(
    expect.objectContaining({
      component: "broker",
      level: "error",
      rule: "no_such_rule",
      msg: expect.stringContaining("RuleNotFound"),
    }),
  );
  expect(s.broker.refusals).toContainEqual(
    expect.objectContaining({
      action: "publish",
      client_id: id,
      topic: `$aws/rules/other_rule/${plain}`,
    }),
  );

  const letters = (await Effect.runPromise(s.stores.deadLetters.recent(20))).filter(
    (l) => l.clientId === id,
  );
  expect(letters).toEqual([
    expect.objectContaining({ topic: plain, reason: "payload is not JSON", payload: "{not json" }),
  ]);

  // Every sample taken while P1 wore the device is P1's: none lost, none doubled.
  const query = new URLSearchParams({
    start_time: String(t1 - 60_000),
    end_time: String(Date.now() + 1_000),
    limit: "1000",
  });
  const page = await api(s, "GET", `/api/patients/P1/sensor-data?${query}`);
  expect(page.status).toBe(200);
  const stored = page.json.data as Array<{
    device_id: string;
    timestamp: number;
    sequence: number;
  }>;
  expect(page.json.next_cursor).toBeNull();
  expect(stored.every((x) => x.device_id === id)).toBe(true);
  const expected = [...published.values()].filter((x) => x.timestamp >= t1).map(key);
  expect(expected.length).toBeGreaterThan(20);
  expect(stored.map(key).sort()).toEqual(expected.sort());
});
