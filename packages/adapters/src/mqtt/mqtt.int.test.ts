import mqtt from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  createDevCa,
  type DevCa,
  issueDeviceCert,
  issueServerCert,
  type KeyAndCert,
} from "../broker/dev-ca.js";
import { type LocalBroker, startLocalBroker } from "../broker/local-broker.js";
import {
  BrokerNotTrusted,
  NotAuthorized,
  NotConnected,
  PayloadTooLarge,
  TlsRejected,
} from "./errors.js";
import { connectOnce, connectTransport, type MqttTransport } from "./transport.js";

let ca: DevCa;
let server: KeyAndCert;
let broker: LocalBroker;
const certs: Record<string, KeyAndCert> = {};
const open: Array<MqttTransport> = [];

beforeAll(async () => {
  ca = await createDevCa();
  server = await issueServerCert(ca);
  for (const id of ["pi-1", "pi-2", "medusa-ingest"]) certs[id] = await issueDeviceCert(ca, id);
  broker = await startLocalBroker({
    tls: { ca: ca.cert, ...server },
    serviceIdentities: ["medusa-ingest"],
  });
});
// Two live clients with one id take the session from each other, as on AWS IoT: close each test's clients.
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close().catch(() => {})));
});
afterAll(() => broker.close());

const client = (
  id: string,
  pair: KeyAndCert | undefined = certs[id],
  extra: Partial<Parameters<typeof connectTransport>[0]> = {},
) => {
  const t = connectTransport({
    host: "127.0.0.1",
    port: broker.port,
    clientId: id,
    ca: ca.cert,
    cert: pair?.cert ?? "",
    key: pair?.key ?? "",
    backoff: { baseMs: 50, capMs: 200 },
    ...extra,
  });
  open.push(t);
  return t;
};
const received = (t: MqttTransport, filter: string) => {
  const got: Array<string> = [];
  void t.subscribe(filter, (topic, payload) =>
    got.push(`${topic} ${Buffer.from(payload).toString()}`),
  );
  return got;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the local broker enforces the IoT policy over mutual TLS", () => {
  it("a device with a certificate from the CA connects and publishes its own topics", async () => {
    const ingest = client("medusa-ingest");
    await ingest.waitConnected();
    const got = received(ingest, "medusa/+/sensor/data");
    await sleep(100);
    const device = client("pi-1");
    await device.waitConnected();
    await device.publish("medusa/pi-1/sensor/data", "hello");
    await sleep(100);
    expect(got).toEqual(["medusa/pi-1/sensor/data hello"]);
  });

  it("a certificate from another CA, or none, fails with a clear TLS error", async () => {
    const other = await createDevCa("someone else");
    const stranger = client("pi-1", await issueDeviceCert(other, "pi-1"));
    await expect(stranger.waitConnected(3_000, { failFast: true })).rejects.toBeInstanceOf(
      TlsRejected,
    );
    const anonymous = client("pi-1", { cert: "", key: "" });
    await expect(anonymous.waitConnected(3_000, { failFast: true })).rejects.toBeInstanceOf(
      TlsRejected,
    );
    await stranger.close();
    await anonymous.close();
  });

  it("names the side that refused: the device a broker its CA did not sign, the broker a device another CA did", async () => {
    const other = await createDevCa("an unrelated CA");
    const logged: Array<Record<string, unknown>> = [];
    const log = (entry: Record<string, unknown>) => void logged.push(entry);
    const wrongCa = client("pi-1", certs["pi-1"], { ca: other.cert, log });
    const byDevice = await wrongCa.waitConnected(3_000, { failFast: true }).catch((e) => e);
    expect(byDevice).toBeInstanceOf(BrokerNotTrusted);
    expect(byDevice).toMatchObject({
      code: "SELF_SIGNED_CERT_IN_CHAIN",
      message: expect.stringMatching(
        /^the device refused the broker's certificate: .*check ca_cert/,
      ),
    });
    await wrongCa.close();

    const stranger = client("pi-1", await issueDeviceCert(other, "pi-1"));
    const byBroker = await stranger.waitConnected(3_000, { failFast: true }).catch((e) => e);
    expect(byBroker).toBeInstanceOf(TlsRejected);
    expect(byBroker.message).toMatch(/does not accept the device's certificate/);
    await stranger.close();
    const none = client("pi-1", { cert: "", key: "" });
    expect(await none.waitConnected(3_000, { failFast: true }).catch((e) => e)).toMatchObject({
      _tag: "TlsRejected",
      code: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
      message: expect.stringMatching(/^the broker refused the device's certificate: .*sent none/),
    });
    await none.close();

    // One line per failed attempt: why, and when the next one comes.
    expect(logged).toEqual([
      {
        level: "warn",
        msg: "connection attempt failed, reconnecting",
        kind: "BrokerNotTrusted",
        error: byDevice.message,
        attempt: 1,
        delay_ms: expect.any(Number),
      },
    ]);
  });

  it("connectOnce tries once, within its bound, and says why it failed", async () => {
    const other = await createDevCa("an unrelated CA");
    const options = {
      host: "127.0.0.1",
      port: broker.port,
      clientId: "pi-2",
      ca: ca.cert,
      ...(certs["pi-2"] as KeyAndCert),
    };
    await expect(connectOnce({ ...options, ca: other.cert }, 3_000)).rejects.toBeInstanceOf(
      BrokerNotTrusted,
    );
    expect(await connectOnce(options, 3_000)).toBeGreaterThanOrEqual(0);
  });

  it("holdIncoming leaves a queued command unacknowledged, for the session's next connection", async () => {
    const queue = async (body: string) => {
      const cloud = client("medusa-ingest");
      await cloud.waitConnected();
      await cloud.publish("medusa/pi-2/commands/ping", body);
      await cloud.close();
    };
    const receive = async (extra: Partial<Parameters<typeof connectTransport>[0]>) => {
      const got: Array<string> = [];
      const device = client("pi-2", certs["pi-2"], extra);
      await device.subscribe("medusa/pi-2/commands/#", (_, payload) =>
        got.push(Buffer.from(payload).toString()),
      );
      await device.waitConnected();
      await sleep(200);
      await device.close();
      return got;
    };
    await receive({}); // the persistent session, subscribed
    await queue("first");
    // Held: it reaches the client and is not acknowledged ...
    expect(await receive({ holdIncoming: true })).toEqual(["first"]);
    // ... so the broker gives it again to the next connection, which takes it.
    expect(await receive({})).toEqual(["first"]);
    expect(await receive({})).toEqual([]);
  });

  it("a client id that is not the certificate's thing name is refused", async () => {
    const impostor = client("pi-2", certs["pi-1"]);
    await expect(impostor.waitConnected(3_000, { failFast: true })).rejects.toBeInstanceOf(
      NotAuthorized,
    );
    expect(broker.refusals).toContainEqual(
      expect.objectContaining({ action: "connect", client_id: "pi-2", certificate: "pi-1" }),
    );
    await impostor.close();
  });

  it("publishing to another device's topic is refused, logged and costs the connection", async () => {
    const ingest = client("medusa-ingest");
    await ingest.waitConnected();
    const got = received(ingest, "medusa/pi-2/sensor/data");
    await sleep(100);
    const device = client("pi-1");
    await device.waitConnected();
    await expect(device.publish("medusa/pi-2/sensor/data", "forged")).rejects.toBeInstanceOf(
      NotConnected,
    );
    await sleep(100);
    expect(got).toEqual([]);
    expect(broker.refusals).toContainEqual(
      expect.objectContaining({
        action: "publish",
        client_id: "pi-1",
        topic: "medusa/pi-2/sensor/data",
        reason: expect.stringContaining("may publish only to its own topics"),
      }),
    );
    // It comes back (backoff) and may publish to its own topics again.
    await device.waitConnected(3_000);
    await device.publish("medusa/pi-1/status", "fine");
  });

  it("a client the broker keeps dropping right after CONNACK backs off ever longer; a stable connection resets the backoff", async () => {
    const attempts = async (stableAfterMs: number | undefined) => {
      const logged: Array<Record<string, unknown>> = [];
      const device = client("pi-1", certs["pi-1"], {
        backoff: { baseMs: 20, capMs: 1_000 },
        random: () => 0.999,
        log: (entry) => void logged.push(entry),
        ...(stableAfterMs !== undefined ? { stableAfterMs } : {}),
      });
      for (let k = 0; k < 3; k++) {
        await device.waitConnected(3_000);
        // Forbidden by the policy: the broker drops the connection.
        await expect(device.publish("medusa/pi-2/status", "x")).rejects.toBeInstanceOf(
          NotConnected,
        );
      }
      await device.waitConnected(3_000);
      return logged.filter((e) => e.msg === "connection lost, reconnecting").map((e) => e.attempt);
    };
    expect(await attempts(undefined)).toEqual([1, 2, 3]);
    expect(await attempts(0)).toEqual([1, 1, 1]);
  });

  it("a payload over AWS IoT Core's 128 KB limit is refused by the broker too, as IoT Core does", async () => {
    const ingest = client("medusa-ingest");
    await ingest.waitConnected();
    const got = received(ingest, "medusa/pi-1/sensor/data");
    await sleep(100);
    // A client that does not check the size itself (the agent's transport would refuse first).
    const device = client("pi-1", certs["pi-1"], { maxPayloadBytes: 1024 * 1024 });
    await device.waitConnected();
    await expect(
      device.publish("medusa/pi-1/sensor/data", "x".repeat(128 * 1024 + 1)),
    ).rejects.toBeInstanceOf(NotConnected);
    await sleep(100);
    expect(got).toEqual([]);
    expect(broker.refusals).toContainEqual(
      expect.objectContaining({
        action: "publish",
        client_id: "pi-1",
        reason: expect.stringContaining("over AWS IoT Core's 131072-byte limit"),
      }),
    );
  });

  it("subscribing to another device's commands is refused with SUBACK 0x80, the connection stays", async () => {
    const device = client("pi-1");
    await device.waitConnected();
    await expect(device.subscribe("medusa/pi-2/commands/#", () => {})).rejects.toBeInstanceOf(
      NotAuthorized,
    );
    expect(device.connected).toBe(true);
    expect(broker.refusals).toContainEqual(
      expect.objectContaining({
        action: "subscribe",
        client_id: "pi-1",
        topic: "medusa/pi-2/commands/#",
      }),
    );
    const commands: Array<string> = [];
    await device.subscribe("medusa/pi-1/commands/#", (topic) => commands.push(topic));
    const cloud = client("medusa-ingest");
    await cloud.waitConnected();
    await cloud.publish("medusa/pi-1/commands/ping", "{}");
    await sleep(100);
    expect(commands).toEqual(["medusa/pi-1/commands/ping"]);
  });

  it("refuses payloads over 128 KB before sending, and publishing while offline", async () => {
    const device = client("pi-2");
    await expect(device.publish("medusa/pi-2/status", "x")).rejects.toBeInstanceOf(NotConnected);
    await device.waitConnected();
    await expect(
      device.publish("medusa/pi-2/status", "x".repeat(128 * 1024 + 1)),
    ).rejects.toBeInstanceOf(PayloadTooLarge);
  });

  it("reconnects with backoff when the broker goes away and comes back on the same port", async () => {
    const device = client("pi-2");
    await device.waitConnected();
    const port = broker.port;
    await broker.close();
    await sleep(300);
    expect(device.connected).toBe(false);
    broker = await startLocalBroker({
      port,
      tls: { ca: ca.cert, ...server },
      serviceIdentities: ["medusa-ingest"],
    });
    await device.waitConnected(5_000);
    await device.publish("medusa/pi-2/status", "back");
    expect(device.reconnects()).toBeGreaterThan(0);
  });
});

describe("the plain listener for local tools", () => {
  it("is off unless asked for; when on, it listens on 127.0.0.1 with the rights of a cloud service", async () => {
    expect(broker.plainPort).toBeUndefined();
    const withPlain = await startLocalBroker({
      tls: { ca: ca.cert, ...server },
      plainListener: { port: 0 },
    });
    try {
      const tool = await mqtt.connectAsync({
        host: "127.0.0.1",
        port: withPlain.plainPort as number,
        clientId: "local-tool",
        reconnectPeriod: 0,
      });
      const got: Array<string> = [];
      tool.on("message", (topic) => got.push(topic));
      const granted = await tool.subscribeAsync("medusa/+/sensor/data", { qos: 1 });
      expect(granted.map((g) => g.qos)).toEqual([1]);
      await tool.publishAsync("medusa/pi-1/commands/ping", "{}", { qos: 1 });
      await tool.publishAsync("medusa/pi-2/sensor/data", "from a tool", { qos: 1 });
      await sleep(100);
      expect(got).toEqual(["medusa/pi-2/sensor/data"]);
      await tool.endAsync();
    } finally {
      await withPlain.close();
    }
  });
});
