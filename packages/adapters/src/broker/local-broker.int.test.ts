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
import { type LocalBroker, startLocalBroker } from "./local-broker.js";
import { connectPacket, mqttString, varInt } from "./testing/mqtt-wire.js";

let ca: DevCa;
let broker: LocalBroker;
const certs: Record<string, KeyAndCert> = {};
const open: Array<MqttClient> = [];

beforeAll(async () => {
  ca = await createDevCa();
  const server = await issueServerCert(ca);
  for (const id of ["pi-1", "medusa-ingest", "+", "a/b"]) certs[id] = await issueDeviceCert(ca, id);
  broker = await startLocalBroker({
    tls: { ca: ca.cert, ...server },
    serviceIdentities: ["medusa-ingest"],
  });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => {})));
});
afterAll(() => broker.close());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A plain mqtt.js client (not the agent's transport), over mutual TLS, no reconnects. */
const client = (id: string, pair: KeyAndCert | undefined = certs[id]) => {
  const c = mqtt.connect({
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
