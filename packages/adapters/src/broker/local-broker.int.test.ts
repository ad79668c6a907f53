import { connect as connectTls, type TLSSocket } from "node:tls";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createDevCa,
  type DevCa,
  issueDeviceCert,
  issueServerCert,
  type KeyAndCert,
} from "./dev-ca.js";
import { type LocalBroker, type RuleMessage, startLocalBroker } from "./local-broker.js";
import { connectPacket, mqttString, varInt } from "./testing/mqtt-wire.js";

let ca: DevCa;
let broker: LocalBroker;
const certs: Record<string, KeyAndCert> = {};
const open: Array<MqttClient> = [];

beforeAll(async () => {
  ca = await createDevCa();
  const server = await issueServerCert(ca);
  for (const id of ["pi-1", "medusa-ingest", "medusa-archive", "+", "a/b"])
    certs[id] = await issueDeviceCert(ca, id);
  broker = await startLocalBroker({
    tls: { ca: ca.cert, ...server },
    serviceIdentities: ["medusa-ingest", "medusa-archive"],
    // The policy grants both; only medusa_ingest exists as a rule (the other was deleted).
    basicIngestRules: ["medusa_ingest", "retired_rule"],
  });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => {})));
});
afterAll(() => broker.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A plain mqtt.js client (not the agent's transport), over mutual TLS, no reconnects. */
const client = (
  id: string,
  pair: KeyAndCert | undefined = certs[id],
  session: { readonly clean: boolean } = { clean: true },
) => {
  const c = mqtt.connect({
    clean: session.clean,
    protocol: "mqtts",
    host: "127.0.0.1",
    port: broker.port,
    clientId: id,
    ca: ca.cert,
    cert: pair?.cert ?? "",
    key: pair?.key ?? "",
    reconnectPeriod: 0,
    connectTimeout: 3_000,
  });
  c.on("error", () => {});
  open.push(c);
  return c;
};
/** Resolves at CONNACK; rejects with the broker's refusal (or the connection closing first). */
const connected = (c: MqttClient) =>
  new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("error", reject);
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });
const closed = (c: MqttClient) => new Promise<void>((resolve) => c.once("close", () => resolve()));
const received = (c: MqttClient) => {
  const got: Array<string> = [];
  c.on("message", (topic, payload, packet) =>
    got.push(`${topic} ${payload.toString()}${packet.retain ? " (retained)" : ""}`),
  );
  return got;
};

/** A cloud service watching `filter`, and device pi-1 connected. */
const watched = async (filter: string) => {
  const cloud = client("medusa-ingest");
  await connected(cloud);
  const got = received(cloud);
  await cloud.subscribeAsync(filter, { qos: 1 });
  const device = client("pi-1");
  await connected(device);
  return { got, device };
};

describe("the local broker is as strict as AWS IoT Core", () => {
  it("refuses a retained publish (the IoT policy grants no iot:RetainPublish): not delivered, not stored, connection closed", async () => {
    const { got: live, device } = await watched("medusa/pi-1/status");
    const gone = closed(device);
    device.publish("medusa/pi-1/status", "kept for whoever comes next", { qos: 1, retain: true });
    await gone;
    expect(broker.refusals).toContainEqual(
      expect.objectContaining({
        action: "publish",
        client_id: "pi-1",
        topic: "medusa/pi-1/status",
        reason: expect.stringContaining("retained"),
      }),
    );

    // A subscriber that comes later gets no retained message either.
    const late = client("medusa-ingest");
    await connected(late);
    const later = received(late);
    await late.subscribeAsync("medusa/#", { qos: 1 });
    await sleep(200);
    expect(live).toEqual([]);
    expect(later).toEqual([]);

    // The same publish without RETAIN goes through.
    const again = client("pi-1");
    await connected(again);
    await again.publishAsync("medusa/pi-1/status", "fine", { qos: 1 });
    await sleep(100);
    expect(later).toEqual(["medusa/pi-1/status fine"]);
  });

  it.each([
    ["+", "would subscribe to every device's commands"],
    ["a/b", "would add a topic level"],
  ])("refuses a certificate whose common name %s is not a device id (%s)", async (cn) => {
    const stranger = client(cn);
    await expect(connected(stranger)).rejects.toThrow();
    expect(broker.refusals).toContainEqual(
      expect.objectContaining({
        action: "connect",
        client_id: cn,
        certificate: cn,
        reason: expect.stringContaining("not a valid thing name"),
      }),
    );
  });

  it("closes a connection whose packet announces more than AWS IoT Core's limit, before the body arrives", async () => {
    const socket: TLSSocket = connectTls({
      host: "127.0.0.1",
      port: broker.port,
      ca: ca.cert,
      ...(certs["pi-1"] as KeyAndCert),
    });
    socket.on("error", () => {});
    let isClosed = false;
    const gone = new Promise<void>((resolve) =>
      socket.once("close", () => {
        isClosed = true;
        resolve();
      }),
    );
    await new Promise<void>((resolve) => socket.once("secureConnect", () => resolve()));
    const connack = new Promise<Buffer>((resolve) => socket.once("data", resolve));
    socket.write(connectPacket("pi-1"));
    expect((await connack)[0]).toBe(0x20);

    // A PUBLISH (QoS 0) that says 50 MB follow: its fixed header, the topic, then the body.
    const declared = 50 * 1024 * 1024;
    socket.write(
      Buffer.concat([Buffer.from([0x30]), varInt(declared), mqttString("medusa/pi-1/sensor/data")]),
    );

    const before = process.memoryUsage().arrayBuffers;
    const chunk = Buffer.alloc(64 * 1024, 0x41);
    const body = 5 * 1024 * 1024;
    let written = 0;
    const startedAt = Date.now();
    while (!isClosed && written < body && Date.now() - startedAt < 10_000) {
      const more = socket.write(chunk);
      written += chunk.length;
      if (!more)
        await Promise.race([new Promise((r) => socket.once("drain", r)), gone, sleep(1_000)]);
    }
    await Promise.race([gone, sleep(2_000)]);
    expect(isClosed).toBe(true);
    // Closed before the client could hand over the 5 MB, so the broker never held them.
    expect(written).toBeLessThan(body);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(4 * 1024 * 1024);
    expect(broker.refusals).toContainEqual(
      expect.objectContaining({
        action: "packet",
        client_id: "pi-1",
        reason: expect.stringContaining(`${declared}-byte packet`),
      }),
    );
  });

  it("still takes a publish with a full 128 KiB payload", async () => {
    const { got, device } = await watched("medusa/pi-1/sensor/data");
    await device.publishAsync("medusa/pi-1/sensor/data", "x".repeat(128 * 1024), { qos: 1 });
    await sleep(100);
    expect(got).toHaveLength(1);
  });
});

describe("Basic Ingest, as AWS IoT Core documents it", () => {
  const RULE = "medusa_ingest";
  const own = "medusa/pi-1/sensor/data";
  const eventually = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 5_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await sleep(20);
    }
  };
  let ruleGot: Array<RuleMessage>;
  let unregister: () => void;
  beforeAll(() => {
    ruleGot = [];
    unregister = broker.rules.register(RULE, "medusa/+/sensor/data", (m) => ruleGot.push(m));
  });
  afterAll(() => unregister());

  it("a publish to $aws/rules/{rule}/… reaches that rule, with topic() as AWS gives it, and no subscriber, not even a service's # or one queued for it", async () => {
    // A cloud service with every filter that could match, and one with a persistent session, offline.
    const away = client("medusa-archive", certs["medusa-archive"], { clean: false });
    await connected(away);
    await away.subscribeAsync("#", { qos: 1 });
    await away.endAsync();
    const cloud = client("medusa-ingest");
    await connected(cloud);
    const live = received(cloud);
    for (const filter of ["#", "$aws/#", "$aws/+/medusa_ingest/#"])
      expect((await cloud.subscribeAsync(filter, { qos: 1 }))[0]?.qos).toBe(1);
    const device = client("pi-1");
    await connected(device);
    const before = broker.rules.stats();

    // QoS 1: the PUBACK says the rules engine has it.
    await device.publishAsync(`$aws/rules/${RULE}/${own}`, '{"v":1}', { qos: 1 });
    await eventually(() => ruleGot.length === 1, "the rule's message");
    expect(ruleGot[0]).toMatchObject({ topic: own, clientId: "pi-1" });
    expect(ruleGot[0]?.payload.toString()).toBe('{"v":1}');
    expect(broker.rules.stats()).toEqual({ ...before, delivered: before.delivered + 1 });

    // The plain topic still goes through the broker, to subscribers and not to the rule registry.
    await device.publishAsync(own, "plain", { qos: 1 });
    await eventually(() => live.length > 0, "the plain message");
    await sleep(200);
    // (`$aws/#` also selects the lifecycle events of pi-1 connecting, as on AWS.)
    const notLifecycle = (got: ReadonlyArray<string>) =>
      got.filter((m) => !m.startsWith("$aws/events/presence/"));
    expect(notLifecycle(live)).toEqual([`${own} plain`]);
    expect(ruleGot).toHaveLength(1);

    // The session that was away gets what it subscribed to while it was away: the plain message only.
    const back = client("medusa-archive", certs["medusa-archive"], { clean: false });
    const queued = received(back);
    await connected(back);
    await sleep(300);
    expect(notLifecycle(queued)).toEqual([`${own} plain`]);
  });

  it("nobody may subscribe to a Basic Ingest topic, a service included (SUBACK 0x80, the connection stays)", async () => {
    for (const id of ["medusa-ingest", "pi-1"]) {
      const c = client(id);
      await connected(c);
      for (const filter of ["$aws/rules/#", `$aws/rules/${RULE}/${own}`, "$aws/rules"]) {
        // mqtt.js rejects a subscription the SUBACK refuses (0x80).
        await expect(c.subscribeAsync(filter, { qos: 1 }), `${id} ${filter}`).rejects.toThrow(
          /Subscribe error/,
        );
        expect(broker.refusals).toContainEqual(
          expect.objectContaining({
            action: "subscribe",
            client_id: id,
            topic: filter,
            reason: expect.stringContaining("Basic Ingest"),
          }),
        );
      }
      expect(c.connected).toBe(true);
    }
  });

  it("drops and counts a message for a rule that does not exist (AWS: an error log and RuleNotFound); the device keeps its connection", async () => {
    const device = client("pi-1");
    await connected(device);
    const before = broker.rules.stats();
    // The policy allows it; the rule was deleted.
    await device.publishAsync(`$aws/rules/retired_rule/${own}`, "{}", { qos: 1 });
    await eventually(
      () => broker.rules.stats().ruleNotFound === before.ruleNotFound + 1,
      "the drop to be counted",
    );
    // A service may name any rule: one that never existed is dropped the same way.
    const cloud = client("medusa-ingest");
    await connected(cloud);
    await cloud.publishAsync(`$aws/rules/no_such_rule/${own}`, "{}", { qos: 1 });
    // And a topic the rule's FROM filter does not select does not run it.
    await cloud.publishAsync(`$aws/rules/${RULE}/medusa/pi-1/status`, "{}", { qos: 1 });
    await eventually(
      () => broker.rules.stats().ruleNotFound === before.ruleNotFound + 2,
      "the second drop",
    );
    await eventually(() => broker.rules.stats().unmatched === before.unmatched + 1, "unmatched");
    expect(broker.rules.stats().delivered).toBe(before.delivered);
    expect(device.connected).toBe(true);
    await device.publishAsync(own, "still connected", { qos: 1 });
  });

  it.each([
    ["another device's id", `$aws/rules/${RULE}/medusa/pi-2/sensor/data`],
    ["a rule the policy does not name", `$aws/rules/other_rule/${own}`],
    ["a topic other than its sensor data", `$aws/rules/${RULE}/medusa/pi-1/status`],
  ])(
    "refuses a device's Basic Ingest publish with %s, as the plain topic's rights say: not delivered, connection closed",
    async (_, topic) => {
      const device = client("pi-1");
      await connected(device);
      const before = broker.rules.stats();
      const got = ruleGot.length;
      const gone = closed(device);
      device.publish(topic, "{}", { qos: 1 });
      await gone;
      expect(broker.refusals).toContainEqual(
        expect.objectContaining({ action: "publish", client_id: "pi-1", topic }),
      );
      await sleep(100);
      expect(ruleGot).toHaveLength(got);
      expect(broker.rules.stats()).toEqual(before);
    },
  );

  it("registers rules by AWS rule name only, one handler a name", () => {
    expect(() => broker.rules.register("medusa-ingest", "#", () => {})).toThrow(/rule name/);
    expect(() => broker.rules.register(RULE, "#", () => {})).toThrow(/registered already/);
  });
});
