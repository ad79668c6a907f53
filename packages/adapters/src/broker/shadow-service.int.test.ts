import { join } from "node:path";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ShadowRecord } from "../shadow/document.js";
import type { ShadowAddress } from "../shadow/topics.js";
import { tempDirs } from "../testing/temp-dirs.js";
import {
  createDevCa,
  type DevCa,
  issueDeviceCert,
  issueServerCert,
  type KeyAndCert,
} from "./dev-ca.js";
import { type LocalBroker, startLocalBroker } from "./local-broker.js";
import { fileShadowPersistence, type ShadowPersistence } from "./shadow-store.js";

// The Device Shadow service on the local broker, used as devices use AWS IoT Core's:
// real mqtt.js clients over mutual TLS, the IoT policy's rights enforced.
let ca: DevCa;
let server: KeyAndCert;
const certs: Record<string, KeyAndCert> = {};
const open: Array<MqttClient> = [];
const brokers: Array<LocalBroker> = [];
const dirs = tempDirs("medusa-shadow-");

beforeAll(async () => {
  ca = await createDevCa();
  server = await issueServerCert(ca);
  for (const id of ["pi-1", "pi-2", "medusa-api"]) certs[id] = await issueDeviceCert(ca, id);
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => {})));
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});
afterAll(async () => {
  await Promise.all(brokers.splice(0).map((b) => b.close()));
});

const start = async (persistence?: ShadowPersistence) => {
  const broker = await startLocalBroker({
    tls: { ca: ca.cert, ...server },
    serviceIdentities: ["medusa-api"],
    shadows: persistence ? { persistence } : {},
  });
  brokers.push(broker);
  return broker;
};

const client = async (broker: LocalBroker, id: string) => {
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
  });
  c.on("error", () => {});
  open.push(c);
  await new Promise<void>((resolve, reject) => {
    c.once("connect", () => resolve());
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });
  return c;
};

type Message = { readonly topic: string; readonly body: Record<string, unknown> };

/** Every message the client receives, decoded, and a way to wait for one on a topic. */
const inbox = (c: MqttClient) => {
  const got: Array<Message> = [];
  const waiters: Array<() => void> = [];
  c.on("message", (topic, payload) => {
    got.push({ topic, body: JSON.parse(payload.toString()) });
    for (const w of waiters.splice(0)) w();
  });
  const next = async (topic: string, count = 1, timeoutMs = 3_000): Promise<Array<Message>> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const on = got.filter((m) => m.topic === topic);
      if (on.length >= count) return on;
      if (Date.now() > deadline)
        throw new Error(`no ${count} message(s) on ${topic}; got ${JSON.stringify(got)}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return { got, next };
};

const shadowOf = (thing: string, rest: string) => `$aws/things/${thing}/shadow/${rest}`;
const RESPONSES = [
  "update/accepted",
  "update/rejected",
  "update/delta",
  "get/accepted",
  "get/rejected",
];

/** A device subscribed to its own shadow's response topics, as an agent does before any request. */
const device = async (broker: LocalBroker, id: string) => {
  const c = await client(broker, id);
  const box = inbox(c);
  const granted = await c.subscribeAsync(
    RESPONSES.map((r) => shadowOf(id, r)),
    { qos: 1 },
  );
  expect(granted.map((g) => g.qos)).toEqual(RESPONSES.map(() => 1));
  return { c, ...box };
};

describe("the Device Shadow service on the local broker", () => {
  it("a device updates and reads its classic shadow: accepted with its clientToken, the delta, the whole document", async () => {
    const broker = await start();
    const pi = await device(broker, "pi-1");
    // The cloud side asks for a rate (over the data plane); the device hears the delta.
    expect(
      (
        await broker.shadows?.update(
          { thing: "pi-1" },
          JSON.stringify({
            state: { desired: { sensor: { sample_rate_hz: 50 }, tags: ["a", "b"] } },
          }),
        )
      )?.status,
    ).toBe(200);
    const [delta] = await pi.next(shadowOf("pi-1", "update/delta"));
    expect(delta?.body).toMatchObject({
      version: 1,
      state: { sensor: { sample_rate_hz: 50 }, tags: ["a", "b"] },
      metadata: { sensor: { sample_rate_hz: { timestamp: expect.any(Number) } } },
    });
    await pi.c.publishAsync(
      shadowOf("pi-1", "update"),
      JSON.stringify({
        state: { reported: { sensor: { sample_rate_hz: 50 } } },
        clientToken: "t-1",
      }),
      { qos: 1 },
    );
    // The data plane's update was published on update/accepted too; then the device's own.
    const [, accepted] = await pi.next(shadowOf("pi-1", "update/accepted"), 2);
    expect(accepted?.body).toMatchObject({
      state: { reported: { sensor: { sample_rate_hz: 50 } } },
      version: 2,
      clientToken: "t-1",
    });
    // Still differs: the array was not reported, so the delta is published again, whole array.
    const deltas = await pi.next(shadowOf("pi-1", "update/delta"), 2);
    expect(deltas[1]?.body.state).toEqual({ tags: ["a", "b"] });
    await pi.c.publishAsync(shadowOf("pi-1", "get"), JSON.stringify({ clientToken: "t-2" }), {
      qos: 1,
    });
    const [got] = await pi.next(shadowOf("pi-1", "get/accepted"));
    expect(got?.body).toMatchObject({
      state: {
        desired: { sensor: { sample_rate_hz: 50 }, tags: ["a", "b"] },
        reported: { sensor: { sample_rate_hz: 50 } },
        delta: { tags: ["a", "b"] },
      },
      version: 2,
      clientToken: "t-2",
    });
  });

  it("rejections come back on /rejected with AWS's code, message and the clientToken: 400, 404, 409, 413", async () => {
    const broker = await start();
    const pi = await device(broker, "pi-1");
    const rejectedOn = async (operation: string, payload: string, count: number) => {
      await pi.c.publishAsync(shadowOf("pi-1", operation), payload, { qos: 1 });
      return (await pi.next(shadowOf("pi-1", `${operation}/rejected`), count))[count - 1]?.body;
    };
    expect(await rejectedOn("get", JSON.stringify({ clientToken: "g" }), 1)).toMatchObject({
      code: 404,
      message: "No shadow exists with name: 'pi-1'",
      clientToken: "g",
    });
    expect(await rejectedOn("update", "{not json", 1)).toMatchObject({
      code: 400,
      message: "Invalid JSON",
    });
    expect(await rejectedOn("update", JSON.stringify({ clientToken: "m" }), 2)).toMatchObject({
      code: 400,
      message: "Missing required node: state",
      clientToken: "m",
    });
    expect(
      await rejectedOn(
        "update",
        JSON.stringify({ state: { desired: { a: 1 } }, version: 3, clientToken: "v" }),
        3,
      ),
    ).toMatchObject({ code: 409, message: "Version conflict", clientToken: "v" });
    expect(
      await rejectedOn(
        "update",
        JSON.stringify({ state: { reported: { note: "x".repeat(8200) } } }),
        4,
      ),
    ).toMatchObject({ code: 413, message: "The payload exceeds the maximum size allowed" });
    expect(broker.shadows?.peek({ thing: "pi-1" })).toBeUndefined();
  });

  it("a device reaches only its own shadow: another's topics are refused and its shadow untouched", async () => {
    const broker = await start();
    await broker.shadows?.update(
      { thing: "pi-2" },
      JSON.stringify({ state: { desired: { a: 1 } } }),
    );
    const pi = await client(broker, "pi-1");
    // SUBACK 0x80 for each refused filter (mqtt.js raises it, with the SUBACK).
    const refused = await pi
      .subscribeAsync(
        [
          shadowOf("pi-2", "update/delta"),
          shadowOf("pi-2", "get/accepted"),
          "$aws/things/+/shadow/update/delta",
          shadowOf("pi-1", "update/delta"),
        ],
        { qos: 1 },
      )
      .then(
        (granted) => granted.map((g) => g.qos),
        (e: { packet?: { granted?: Array<number> } }) => e.packet?.granted,
      );
    expect(refused).toEqual([128, 128, 128, 1]);
    const closed = new Promise<void>((r) => pi.once("close", () => r()));
    pi.publish(shadowOf("pi-2", "update"), JSON.stringify({ state: { desired: { a: 2 } } }), {
      qos: 1,
    });
    await closed;
    expect(broker.shadows?.peek({ thing: "pi-2" })?.state.desired).toEqual({ a: 1 });
    expect(broker.refusals.at(-1)).toMatchObject({ action: "publish", client_id: "pi-1" });
  });

  it("named shadows are their own documents on their own topics, with /update/documents", async () => {
    const broker = await start();
    // A cloud service (its identity may use any topic) on a named shadow of pi-1.
    const api = await client(broker, "medusa-api");
    const box = inbox(api);
    const named = "$aws/things/pi-1/shadow/name/config";
    await api.subscribeAsync(
      [`${named}/update/accepted`, `${named}/update/documents`, `${named}/delete/accepted`],
      {
        qos: 1,
      },
    );
    await api.publishAsync(
      `${named}/update`,
      JSON.stringify({ state: { desired: { x: 1 } }, clientToken: "n" }),
      {
        qos: 1,
      },
    );
    const [documents] = await box.next(`${named}/update/documents`);
    expect(documents?.body).toMatchObject({
      previous: null,
      current: { state: { desired: { x: 1 } }, version: 1 },
      clientToken: "n",
    });
    await api.publishAsync(`${named}/delete`, "", { qos: 1 });
    expect((await box.next(`${named}/delete/accepted`))[0]?.body).toEqual({
      version: 1,
      timestamp: expect.any(Number),
    });
    expect(broker.shadows?.peek({ thing: "pi-1" })).toBeUndefined();
    expect(broker.shadows?.peek({ thing: "pi-1", shadowName: "config" })).toMatchObject({
      version: 1,
      deletedAt: expect.any(Number),
    });
  });

  it("429 for the eleventh request in flight on one connection; the ten are answered", async () => {
    // Saves that take a while keep requests in flight, as a busy service does.
    const slow: ShadowPersistence = {
      load: () => [],
      save: () => new Promise((r) => setTimeout(r, 300)),
      close: async () => {},
    };
    const broker = await start(slow);
    const pi = await device(broker, "pi-1");
    await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        pi.c.publishAsync(
          shadowOf("pi-1", "update"),
          JSON.stringify({ state: { reported: { n: i } }, clientToken: `r-${i}` }),
          { qos: 1 },
        ),
      ),
    );
    const rejected = await pi.next(shadowOf("pi-1", "update/rejected"), 2);
    expect(rejected.map((r) => r.body)).toEqual([
      {
        code: 429,
        message: "Too Many Requests",
        timestamp: expect.any(Number),
        clientToken: "r-10",
      },
      {
        code: 429,
        message: "Too Many Requests",
        timestamp: expect.any(Number),
        clientToken: "r-11",
      },
    ]);
    const accepted = await pi.next(shadowOf("pi-1", "update/accepted"), 10);
    // Answered in the order they arrived, one version each.
    expect(accepted.map((a) => [a.body.clientToken, a.body.version])).toEqual(
      Array.from({ length: 10 }, (_, i) => [`r-${i}`, i + 1]),
    );
    expect(broker.shadows?.stats()).toMatchObject({ requests: 12, accepted: 10, throttled: 2 });
  });

  it("shadows persist across restarts of the broker, a deleted one with its version", async () => {
    const file = join(dirs(), "shadows.jsonl");
    const first = await start(fileShadowPersistence(file));
    const pi = await device(first, "pi-1");
    for (const n of [1, 2, 3])
      await pi.c.publishAsync(
        shadowOf("pi-1", "update"),
        JSON.stringify({ state: { reported: { n } } }),
        {
          qos: 1,
        },
      );
    await pi.next(shadowOf("pi-1", "update/accepted"), 3);
    await first.shadows?.update(
      { thing: "pi-2" },
      JSON.stringify({ state: { desired: { gone: true } } }),
    );
    await first.shadows?.delete({ thing: "pi-2" });
    const before = first.shadows?.peek({ thing: "pi-1" });
    await pi.c.endAsync(true);
    await first.close();
    brokers.splice(brokers.indexOf(first), 1);

    const second = await start(fileShadowPersistence(file));
    expect(second.shadows?.peek({ thing: "pi-1" })).toEqual(before);
    const again = await device(second, "pi-1");
    await again.c.publishAsync(shadowOf("pi-1", "get"), "", { qos: 1 });
    expect((await again.next(shadowOf("pi-1", "get/accepted")))[0]?.body).toMatchObject({
      state: { reported: { n: 3 } },
      version: 3,
    });
    // The deleted shadow, created again, continues its version (within 48 hours).
    const recreated = await second.shadows?.update(
      { thing: "pi-2" },
      JSON.stringify({ state: { desired: { back: true } } }),
    );
    expect(recreated?.body).toMatchObject({ version: 2 });
  });

  it("the file is rewritten once it has grown to twice its shadows, and later saves go to the new file", async () => {
    const { readFileSync } = await import("node:fs");
    const file = join(dirs(), "shadows.jsonl");
    const store = fileShadowPersistence(file);
    const address: ShadowAddress = { thing: "pi-1" };
    const recordOf = (version: number): ShadowRecord => ({
      version,
      state: { reported: { n: version } },
      metadata: { reported: { n: { timestamp: version } } },
    });
    const lines = () =>
      readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l !== "").length;
    // One turn of the event loop: one append of 1,100 lines.
    await Promise.all(
      Array.from({ length: 1_100 }, (_, i) => store.save(address, recordOf(i + 1))),
    );
    expect(lines()).toBe(1_100);
    // The next save rewrites the file (one line); the one after appends to the new file.
    await store.save(address, recordOf(1_101));
    expect(lines()).toBe(1);
    await store.save(address, recordOf(1_102));
    expect(lines()).toBe(2);
    await store.close();
    expect(fileShadowPersistence(file).load()).toEqual([[address, recordOf(1_102)]]);
  });

  it("a file cut off mid-line by a crash loses only that line", async () => {
    const { appendFileSync } = await import("node:fs");
    const file = join(dirs(), "shadows.jsonl");
    const store = fileShadowPersistence(file, { fsync: false });
    const record: ShadowRecord = {
      version: 4,
      state: { reported: { a: 1 } },
      metadata: { reported: { a: { timestamp: 1 } } },
    };
    const address: ShadowAddress = { thing: "pi-1" };
    await store.save(address, record);
    await store.close();
    appendFileSync(file, '{"thing":"pi-1","name":null,"version":5,"sta');
    const reopened = fileShadowPersistence(file, { fsync: false });
    expect(reopened.load()).toEqual([[address, record]]);
  });
});
