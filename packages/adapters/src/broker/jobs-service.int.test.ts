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

// AWS IoT Jobs on the local broker, used as devices use AWS IoT Core's:
// real mqtt.js clients over mutual TLS, the IoT policy's rights enforced.
let ca: DevCa;
let server: KeyAndCert;
const certs: Record<string, KeyAndCert> = {};
const open: Array<MqttClient> = [];
const brokers: Array<LocalBroker> = [];

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

const start = async () => {
  const broker = await startLocalBroker({
    tls: { ca: ca.cert, ...server },
    serviceIdentities: ["medusa-api"],
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

const jobsOf = (thing: string, rest: string) => `$aws/things/${thing}/jobs/${rest}`;

describe("AWS IoT Jobs on the local broker", () => {
  it("a device hears of a job, starts it, reports progress and success, over MQTT with mutual TLS", async () => {
    const broker = await start();
    const pi = await client(broker, "pi-1");
    const box = inbox(pi);
    const granted = await pi.subscribeAsync(jobsOf("pi-1", "#"), { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    const created = await broker.jobs?.createJob({
      jobId: "restart-1",
      targets: ["pi-1"],
      document: JSON.stringify({ operation: "agent.restart" }),
    });
    expect(created?.ok).toBe(true);
    const [next] = await box.next(jobsOf("pi-1", "notify-next"));
    expect(next?.body).toMatchObject({
      execution: {
        jobId: "restart-1",
        status: "QUEUED",
        jobDocument: { operation: "agent.restart" },
      },
    });
    await pi.publishAsync(jobsOf("pi-1", "start-next"), JSON.stringify({ clientToken: "s1" }), {
      qos: 1,
    });
    const [started] = await box.next(jobsOf("pi-1", "start-next/accepted"));
    expect(started?.body).toMatchObject({
      clientToken: "s1",
      execution: { status: "IN_PROGRESS", versionNumber: 2 },
    });
    await pi.publishAsync(
      jobsOf("pi-1", "restart-1/update"),
      JSON.stringify({
        status: "SUCCEEDED",
        expectedVersion: 2,
        statusDetails: { outcome: "restarted" },
        clientToken: "u1",
      }),
      { qos: 1 },
    );
    const [done] = await box.next(jobsOf("pi-1", "restart-1/update/accepted"));
    expect(done?.body).toMatchObject({ clientToken: "u1", timestamp: expect.any(Number) });
    expect(broker.jobs?.describeJobExecution("restart-1", "pi-1")).toMatchObject({
      ok: true,
      value: { execution: { status: "SUCCEEDED", statusDetails: { outcome: "restarted" } } },
    });
  });

  it("a device reaches only its own jobs: another's topics are refused and its jobs untouched", async () => {
    const broker = await start();
    await broker.jobs?.createJob({
      jobId: "theirs",
      targets: ["pi-2"],
      document: JSON.stringify({ operation: "outbox.flush" }),
    });
    const pi = await client(broker, "pi-1");
    const refused = await pi
      .subscribeAsync(
        [jobsOf("pi-2", "notify-next"), jobsOf("+", "notify"), jobsOf("pi-1", "notify-next")],
        { qos: 1 },
      )
      .then(
        (granted) => granted.map((g) => g.qos),
        (e: { packet?: { granted?: Array<number> } }) => e.packet?.granted,
      );
    expect(refused).toEqual([128, 128, 1]);
    const closed = new Promise<void>((r) => pi.once("close", () => r()));
    pi.publish(jobsOf("pi-2", "theirs/update"), JSON.stringify({ status: "SUCCEEDED" }), {
      qos: 1,
    });
    await closed;
    expect(broker.refusals.at(-1)).toMatchObject({ action: "publish", client_id: "pi-1" });
    expect(broker.jobs?.describeJobExecution("theirs", "pi-2")).toMatchObject({
      value: { execution: { status: "QUEUED", versionNumber: 1 } },
    });
  });

  it("a FAILED execution of a job with a retry config comes back to the device as the next execution, and the abort config cancels the job for the others", async () => {
    const broker = await start();
    const pi1 = await client(broker, "pi-1");
    const pi2 = await client(broker, "pi-2");
    const box1 = inbox(pi1);
    const box2 = inbox(pi2);
    await pi1.subscribeAsync(jobsOf("pi-1", "#"), { qos: 1 });
    await pi2.subscribeAsync(jobsOf("pi-2", "#"), { qos: 1 });
    const created = await broker.jobs?.createJob({
      jobId: "flush-1",
      targets: ["pi-1", "pi-2"],
      document: JSON.stringify({ operation: "outbox.flush" }),
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 1 }] },
      abortConfig: {
        criteriaList: [
          {
            failureType: "FAILED",
            action: "CANCEL",
            thresholdPercentage: 100,
            minNumberOfExecutedThings: 1,
          },
        ],
      },
    });
    expect(created?.ok).toBe(true);
    await box2.next(jobsOf("pi-2", "notify-next"));
    const fail = async (n: number) => {
      await pi1.publishAsync(
        jobsOf("pi-1", "start-next"),
        JSON.stringify({ clientToken: `s${n}` }),
        {
          qos: 1,
        },
      );
      await box1.next(jobsOf("pi-1", "start-next/accepted"), n);
      await pi1.publishAsync(
        jobsOf("pi-1", "flush-1/update"),
        JSON.stringify({
          status: "FAILED",
          statusDetails: { reason: "disk full" },
          clientToken: `u${n}`,
        }),
        { qos: 1 },
      );
      await box1.next(jobsOf("pi-1", "flush-1/update/accepted"), n);
    };
    await fail(1);
    // notify-next: the job again, as execution 2 (the first was the job's only one until it failed).
    const nexts = await box1.next(jobsOf("pi-1", "notify-next"), 2);
    expect(nexts[1]?.body).toMatchObject({
      execution: { jobId: "flush-1", status: "QUEUED", executionNumber: 2, versionNumber: 1 },
    });
    expect(broker.jobs?.describeJob("flush-1")).toMatchObject({ value: { status: "IN_PROGRESS" } });
    await fail(2);
    // Failed for good on 1 of 1 executed thing: 100 % → the job is canceled, pi-2's execution too.
    expect(broker.jobs?.describeJob("flush-1")).toMatchObject({ value: { status: "CANCELED" } });
    const pi2Next = await box2.next(jobsOf("pi-2", "notify-next"), 2);
    expect(pi2Next[1]?.body).not.toHaveProperty("execution");
    expect(broker.jobs?.describeJobExecution("flush-1", "pi-2")).toMatchObject({
      value: { execution: { status: "CANCELED" } },
    });
  });
});
