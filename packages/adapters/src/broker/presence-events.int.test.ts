import { connect as connectTls, type TLSSocket } from "node:tls";
import { decodePresenceMessage, type PresenceEvent } from "@medusa/domain";
import { Either } from "effect";
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
import { mqttString, varInt } from "./testing/mqtt-wire.js";

let ca: DevCa;
let broker: LocalBroker;
const certs: Record<string, KeyAndCert> = {};
const open: Array<MqttClient> = [];
let events: Array<{ topic: string; event: PresenceEvent }> = [];
let watcher: MqttClient;

const client = (id: string, options: mqtt.IClientOptions = {}) => {
  const c = mqtt.connect({
    protocol: "mqtts",
    host: "127.0.0.1",
    port: broker.port,
    clientId: id,
    ca: ca.cert,
    cert: certs[id]?.cert ?? "",
    key: certs[id]?.key ?? "",
    reconnectPeriod: 0,
    connectTimeout: 3_000,
    ...options,
  });
  c.on("error", () => {});
  open.push(c);
  return c;
};
const connected = (c: MqttClient) =>
  new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });

/** Waits until an event matching `match` arrived (the broker publishes them at QoS 1). */
const eventOf = async (match: (e: PresenceEvent) => boolean, timeoutMs = 5_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = events.find((e) => match(e.event));
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(`no such lifecycle event in ${JSON.stringify(events)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  ca = await createDevCa();
  const server = await issueServerCert(ca);
  for (const id of ["pi-1", "pi-2", "pi-3", "pi-4", "medusa-fleet"])
    certs[id] = await issueDeviceCert(ca, id);
  broker = await startLocalBroker({
    tls: { ca: ca.cert, ...server },
    serviceIdentities: ["medusa-fleet"],
  });
  // A cloud service subscribed as AWS IoT's rule selects them.
  watcher = mqtt.connect({
    protocol: "mqtts",
    host: "127.0.0.1",
    port: broker.port,
    clientId: "medusa-fleet",
    ca: ca.cert,
    cert: certs["medusa-fleet"]?.cert ?? "",
    key: certs["medusa-fleet"]?.key ?? "",
    reconnectPeriod: 0,
  });
  await new Promise<void>((r) => watcher.once("connect", () => r()));
  await watcher.subscribeAsync("$aws/events/presence/+/+", { qos: 1 });
  watcher.on("message", (topic, payload) => {
    const decoded = decodePresenceMessage({ topic, payload });
    if (Either.isLeft(decoded))
      throw new Error(`undecodable lifecycle event: ${decoded.left.message}`);
    events.push({ topic, event: decoded.right });
  });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => {})));
  events = [];
});
afterAll(async () => {
  await watcher.endAsync(true);
  await broker.close();
});

describe("lifecycle events, as AWS IoT Core publishes them", () => {
  it("a connect and a DISCONNECT: AWS's fields, one session and version for both, on the documented topics", async () => {
    const before = Date.now();
    const pi = client("pi-1");
    await connected(pi);
    const { topic, event: c } = await eventOf(
      (e) => e.eventType === "connected" && e.clientId === "pi-1",
    );
    expect(topic).toBe("$aws/events/presence/connected/pi-1");
    expect(c).toMatchObject({ clientId: "pi-1", eventType: "connected", ipAddress: "127.0.0.1" });
    expect(c.timestamp).toBeGreaterThanOrEqual(before);
    expect(c.sessionIdentifier).toMatch(/^[0-9a-f]{32}$/);
    // The certificate's id: the SHA-256 of its DER, as AWS names certificates.
    expect(c.principalIdentifier).toMatch(/^[0-9a-f]{64}$/);
    await pi.endAsync();
    const d = await eventOf((e) => e.eventType === "disconnected" && e.clientId === "pi-1");
    expect(d.topic).toBe("$aws/events/presence/disconnected/pi-1");
    expect(d.event).toMatchObject({
      clientInitiatedDisconnect: true,
      disconnectReason: "CLIENT_INITIATED_DISCONNECT",
      sessionIdentifier: c.sessionIdentifier,
      principalIdentifier: c.principalIdentifier,
      versionNumber: c.versionNumber,
    });
  });

  it("a connection that just ends is CONNECTION_LOST; the next connection has a new session and a higher version", async () => {
    const first = client("pi-2");
    await connected(first);
    const c1 = await eventOf((e) => e.eventType === "connected" && e.clientId === "pi-2");
    (first.stream as TLSSocket).destroy();
    const d1 = await eventOf((e) => e.eventType === "disconnected" && e.clientId === "pi-2");
    expect(d1.event).toMatchObject({
      clientInitiatedDisconnect: false,
      disconnectReason: "CONNECTION_LOST",
    });
    const second = client("pi-2");
    await connected(second);
    const c2 = await eventOf(
      (e) =>
        e.eventType === "connected" &&
        e.clientId === "pi-2" &&
        e.sessionIdentifier !== c1.event.sessionIdentifier,
    );
    expect(c2.event.versionNumber).toBeGreaterThan(c1.event.versionNumber);
  });

  it("a second connection with the same client id ends the first with DUPLICATE_CLIENTID", async () => {
    const first = client("pi-3");
    await connected(first);
    const c1 = await eventOf((e) => e.eventType === "connected" && e.clientId === "pi-3");
    const second = client("pi-3");
    await connected(second);
    const d = await eventOf((e) => e.eventType === "disconnected" && e.clientId === "pi-3");
    expect(d.event).toMatchObject({
      disconnectReason: "DUPLICATE_CLIENTID",
      clientInitiatedDisconnect: false,
      sessionIdentifier: c1.event.sessionIdentifier,
    });
  });

  it("a publish the policy forbids closes the connection with AUTH_ERROR; a device may not subscribe to lifecycle events", async () => {
    const pi = client("pi-4");
    await connected(pi);
    // Refused with SUBACK 0x80 (mqtt.js rejects it): the policy grants devices no lifecycle topics.
    await expect(pi.subscribeAsync("$aws/events/presence/+/+", { qos: 1 })).rejects.toThrow(
      /Subscribe error/,
    );
    pi.publish("medusa/pi-1/sensor/data", "{}", { qos: 1 });
    const d = await eventOf((e) => e.eventType === "disconnected" && e.clientId === "pi-4");
    expect(d.event.eventType === "disconnected" && d.event.disconnectReason).toBe("AUTH_ERROR");
  });

  it("no packet for 1.5 keep-alive periods is MQTT_KEEP_ALIVE_TIMEOUT", async () => {
    const socket = connectTls({
      host: "127.0.0.1",
      port: broker.port,
      ca: ca.cert,
      cert: certs["pi-1"]?.cert,
      key: certs["pi-1"]?.key,
      servername: "localhost",
    });
    socket.on("error", () => {});
    await new Promise<void>((r) => socket.once("secureConnect", () => r()));
    // CONNECT, MQTT 3.1.1, clean session, a 1 s keep-alive; then silence.
    const body = Buffer.concat([
      mqttString("MQTT"),
      Buffer.from([4, 0x02, 0, 1]),
      mqttString("pi-1"),
    ]);
    socket.write(Buffer.concat([Buffer.from([0x10]), varInt(body.length), body]));
    const d = await eventOf((e) => e.eventType === "disconnected" && e.clientId === "pi-1", 6_000);
    expect(d.event).toMatchObject({
      disconnectReason: "MQTT_KEEP_ALIVE_TIMEOUT",
      clientInitiatedDisconnect: false,
    });
    socket.destroy();
  });
});
