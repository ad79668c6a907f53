import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectTransport } from "@medusa/adapters/mqtt";
import { freePort } from "@medusa/adapters/testing";
import { parseSensorPayload, samplesOf } from "@medusa/domain";
import { Either } from "effect";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { main } from "./cli.js";
import { startDevice } from "./run.js";
import { eventually, sleep, testFolder, writeConfig } from "./testing/testbed.js";

// The README's Mosquitto deployment, as written: its listener and ACL blocks, the agent on MQTT 5.
const MOSQUITTO = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].find(
  (path) => spawnSync(path, ["-h"]).error === undefined,
);
if (!MOSQUITTO)
  throw new Error(
    "mosquitto is not installed: the root `npm test` installs it from Debian's packages (or: apt-get install mosquitto)",
  );

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const block = (name: string) =>
  new RegExp(`<!-- mosquitto: ${name} -->\\n\`\`\`conf\\n(.*?)\\n\`\`\``, "s").exec(readme)?.[1] ??
  "";

let folder: Awaited<ReturnType<typeof testFolder>>;
let port: number;
let broker: ChildProcess | undefined;
beforeAll(async () => {
  folder = await testFolder(["pi-mosquitto", "medusa-ingest"]);
  port = await freePort();
  const certs = join(folder.dir, "certs");
  const acl = join(folder.dir, "medusa.acl");
  // A service's lines, as the README describes them, and the device's block verbatim.
  writeFileSync(acl, `user medusa-ingest\ntopic read medusa/+/sensor/data\n\n${block("acl")}\n`);
  const listener = block("listener")
    .replace("/etc/mosquitto/medusa.acl", acl)
    .replace("/etc/mosquitto/ca_certificates/medusa-devices-ca.pem", join(certs, "ca.pem"))
    .replace("/etc/mosquitto/certs/broker.pem", join(certs, "broker.pem"))
    .replace("/etc/mosquitto/certs/broker.key", join(certs, "broker.key"))
    .replace("listener 8883", `listener ${port} 127.0.0.1`);
  expect(listener).not.toContain("/etc/mosquitto");
  writeFileSync(
    join(folder.dir, "mosquitto.conf"),
    `user root\npersistence_location ${folder.dir}/\nlog_dest stderr\n${listener}\n`,
  );
  broker = spawn(MOSQUITTO as string, ["-c", join(folder.dir, "mosquitto.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  broker.stderr?.on("data", (d) => {
    log += String(d);
  });
  const deadline = Date.now() + 10_000;
  while (!/mosquitto version \S+ running/.test(log)) {
    if (broker.exitCode !== null || Date.now() > deadline)
      throw new Error(`mosquitto did not start:\n${log}`);
    await sleep(20);
  }
});
afterAll(async () => {
  // Mosquitto writes into its folder as it stops: wait for it before removing the folder.
  if (broker && broker.exitCode === null && broker.signalCode === null) {
    const exited = new Promise((resolve) => broker?.once("exit", resolve));
    broker.kill("SIGTERM");
    await Promise.race([exited, sleep(5_000)]);
  }
  folder?.remove();
});

it("the agent runs against Mosquitto set up as the README says, and only on its own topics", async () => {
  const { path, config } = writeConfig(folder.dir, folder.certs, "pi-mosquitto", port);
  writeFileSync(
    path,
    readFileSync(path, "utf8").replace("[mqtt]", '[mqtt]\nprotocol_version = "5"'),
  );
  vi.spyOn(console, "log").mockImplementation(() => {});
  expect(await main(["--config", path, "--check", "--connect"], {})).toBe(0);
  vi.restoreAllMocks();

  const ingest = connectTransport({
    host: "127.0.0.1",
    port,
    clientId: "medusa-ingest",
    ca: folder.certs.ca,
    ...(folder.certs.clients["medusa-ingest"] as { cert: string; key: string }),
    protocolVersion: 5,
  });
  const sequences: Array<number> = [];
  await ingest.waitConnected();
  await ingest.subscribe("medusa/+/sensor/data", (_, payload) => {
    const decoded = parseSensorPayload(Buffer.from(payload).toString());
    if (Either.isRight(decoded))
      sequences.push(...samplesOf(decoded.right, 0).map((s) => s.sequence));
  });
  const device = await startDevice(
    { ...config, mqtt: { ...config.mqtt, protocolVersion: 5 } },
    {
      log: () => {},
    },
  );
  try {
    await eventually(() => sequences.length >= 20, "samples through Mosquitto");
    // The ACL refuses another device's topic; on MQTT 5 the device is told so.
    await expect(device.transport.publish("medusa/pi-other/sensor/data", "{}")).rejects.toThrow(
      /Not authorized/,
    );
  } finally {
    await device.stop();
    await ingest.close();
  }
  expect(sequences.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_, i) => i));
});
