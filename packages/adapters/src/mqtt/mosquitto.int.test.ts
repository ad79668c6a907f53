import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as connectTcp } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createDevCa,
  type DevCertFiles,
  ensureDevCerts,
  issueDeviceCert,
} from "../broker/dev-ca.js";
import { freePort } from "../testing/dynamo-local.js";
import { connectOnce, connectTransport, type MqttTransport } from "./transport.js";

// A second broker implementation: Mosquitto from Debian's packages (.ci/run installs it).
const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].find(
  (path) => spawnSync(path, ["-h"]).error === undefined,
);
if (!MOSQUITTO)
  throw new Error(
    "mosquitto is not installed: the root `npm test` installs it from Debian's packages (or: apt-get install mosquitto)",
  );

const listening = () =>
  new Promise<boolean>((resolve) => {
    const socket = connectTcp(port, "127.0.0.1")
      .once("connect", () => {
        socket.destroy();
        resolve(true);
      })
      .once("error", () => resolve(false));
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let dir: string;
let certs: DevCertFiles;
let port: number;
let broker: ChildProcess | undefined;

/** Mosquitto with mutual TLS, the certificate's CN as the user, and the IoT policy's rights as an ACL. */
const startMosquitto = async () => {
  const child = spawn(MOSQUITTO as string, ["-c", join(dir, "mosquitto.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (d) => {
    log += String(d);
  });
  const deadline = Date.now() + 10_000;
  while (!(await listening())) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`mosquitto did not start:\n${log}`);
    await sleep(20);
  }
  broker = child;
};
const stopMosquitto = async () => {
  const child = broker;
  broker = undefined;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM"); // saves the persistent sessions on the way out
  await exited;
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "medusa-mosquitto-"));
  certs = await ensureDevCerts(join(dir, "certs"), ["pi-m4", "pi-m5", "medusa-cloud"]);
  port = await freePort();
  writeFileSync(
    join(dir, "acl"),
    [
      "user medusa-cloud",
      "topic read medusa/#",
      "topic write medusa/+/commands/#",
      "",
      "pattern write medusa/%u/sensor/data",
      "pattern write medusa/%u/status",
      "pattern write medusa/%u/device/info",
      "pattern write medusa/%u/commands/response",
      "pattern read medusa/%u/commands/#",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "mosquitto.conf"),
    [
      "user root",
      "per_listener_settings false",
      "allow_anonymous false",
      `acl_file ${join(dir, "acl")}`,
      "persistence true",
      `persistence_location ${dir}/`,
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type notice",
      `listener ${port} 127.0.0.1`,
      `cafile ${certs.paths.ca}`,
      `certfile ${join(dir, "certs", "broker.pem")}`,
      `keyfile ${join(dir, "certs", "broker.key")}`,
      "require_certificate true",
      "use_identity_as_username true",
      "",
    ].join("\n"),
  );
  await startMosquitto();
});
afterAll(async () => {
  await stopMosquitto();
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

const connect = (id: string, protocolVersion: 4 | 5): MqttTransport => {
  const pair = certs.clients[id];
  if (!pair) throw new Error(id);
  return connectTransport({
    host: "127.0.0.1",
    port,
    clientId: id,
    ca: certs.ca,
    cert: pair.cert,
    key: pair.key,
    protocolVersion,
    backoff: { baseMs: 50, capMs: 300 },
  });
};

describe("the transport against Mosquitto", () => {
  for (const version of [4, 5] as const) {
    it(`connects, publishes and reconnects after a broker restart (MQTT ${version === 4 ? "3.1.1" : "5"})`, async () => {
      const id = version === 4 ? "pi-m4" : "pi-m5";
      const cloud = connect("medusa-cloud", version);
      const device = connect(id, version);
      const got: Array<string> = [];
      try {
        await cloud.waitConnected();
        await cloud.subscribe(`medusa/${id}/sensor/data`, (_, payload) =>
          got.push(Buffer.from(payload).toString()),
        );
        await device.waitConnected();
        for (let n = 0; n < 10; n++) await device.publish(`medusa/${id}/sensor/data`, `${n}`);

        await stopMosquitto();
        await sleep(200);
        expect(device.connected).toBe(false);
        await startMosquitto();
        await device.waitConnected(10_000);
        await cloud.waitConnected(10_000);
        for (let n = 10; n < 20; n++) await device.publish(`medusa/${id}/sensor/data`, `${n}`);

        const deadline = Date.now() + 10_000;
        while (new Set(got).size < 20 && Date.now() < deadline) await sleep(20);
        // The cloud's persistent session survived the restart; nothing published was lost.
        expect([...new Set(got)].map(Number).sort((a, b) => a - b)).toEqual(
          Array.from({ length: 20 }, (_, i) => i),
        );
        expect(device.reconnects()).toBeGreaterThanOrEqual(1);
      } finally {
        await device.close();
        await cloud.close();
      }
    });
  }

  it("names the side that refused: Mosquitto's TLS alert for a certificate from another CA, the device's check of Mosquitto's", async () => {
    const other = await createDevCa("an unrelated CA");
    const pair = certs.clients["pi-m4"] as { cert: string; key: string };
    const options = { host: "127.0.0.1", port, clientId: "pi-m4", ca: certs.ca, ...pair };
    const byBroker = await connectOnce(
      { ...options, ...(await issueDeviceCert(other, "pi-m4")) },
      5_000,
    ).catch((e) => e);
    expect(byBroker).toMatchObject({
      _tag: "TlsRejected",
      code: "ERR_SSL_TLSV1_ALERT_UNKNOWN_CA",
      message: expect.stringMatching(/^the broker refused the device's certificate: its TLS alert/),
    });
    const byDevice = await connectOnce({ ...options, ca: other.cert }, 5_000).catch((e) => e);
    expect(byDevice).toMatchObject({
      _tag: "BrokerNotTrusted",
      message: expect.stringMatching(/^the device refused the broker's certificate: /),
    });
    expect(await connectOnce(options, 5_000)).toBeGreaterThanOrEqual(0);
  });
});
