import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, portTaken, runCommand } from "@medusa/adapters/testing";
import { loadConfig } from "@medusa/device";
import { type EpochMillis, encodeSampleBatch, type Sample } from "@medusa/domain";
import { Either } from "effect";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const main = fileURLToPath(new URL("./main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "medusa-stack-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `medusa-stack ARGS`, as `npm start -- ARGS` runs it. */
const medusaStack = (args: ReadonlyArray<string>) =>
  runCommand(["--import", "tsx", "--conditions=@medusa/source", main, ...args], { cwd: root });
const run = (args: ReadonlyArray<string>) => medusaStack(["--dir", dir, ...args]);

/** Every file and folder under `path` that group or others may use. */
const openToOthers = (path: string) =>
  readdirSync(path, { recursive: true, withFileTypes: true })
    .map((e) => join(e.parentPath, e.name))
    .filter((p) => statSync(p).mode & 0o077);

/** One simulated device, every port free unless given. */
const small = (dynamoPort = 0) => [
  "--devices",
  "1",
  "--api-port",
  "0",
  "--mqtt-port",
  "0",
  "--dynamo-port",
  String(dynamoPort),
];

it("prints what runs where and a token, and stops cleanly on Ctrl-C with exit code 0", async () => {
  const stack = run(small());
  await stack.waitFor("Ctrl-C stops everything", 100_000);
  const out = stack.output();
  expect(out).toContain("✓ DynamoDB Local ready on http://127.0.0.1:");
  expect(out).toMatch(/API {10}http:\/\/127\.0\.0\.1:\d+/);
  expect(out).toMatch(/export TOKEN=ey[\w-]+\.[\w-]+\.[\w-]+/);
  expect(out).toContain('"device_id":"medusa-sim-01","patient_id":"P-001"');
  stack.child.kill("SIGINT");
  expect(await stack.exited).toBe(0);
  expect(stack.output()).toContain("stopped.");
  // Everything the run made in the data folder, by the stack, DynamoDB Local's JVM or a
  // device's outbox, is owner-only.
  expect(openToOthers(dir)).toEqual([]);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
});

it("names a port that is taken, and the option that changes it", async () => {
  const server = createServer();
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
  try {
    const stack = run(["--api-port", String(port), "--mqtt-port", "0", "--dynamo-port", "0"]);
    expect(await stack.exited).toBe(1);
    expect(stack.output()).toContain(
      `port ${port} on 127.0.0.1 (the API) is already in use; choose another with --api-port`,
    );
  } finally {
    server.close();
  }
});

it("stops what has started, DynamoDB Local included, when Ctrl-C comes during start-up", async () => {
  const dynamoPort = await freePort();
  const stack = run(small(dynamoPort));
  // The JVM is being spawned or coming up: not ready yet.
  await stack.waitFor("starting DynamoDB Local (Java) …", 60_000);
  await new Promise((r) => setTimeout(r, 300));
  expect(stack.output()).not.toContain("Ctrl-C stops everything");
  stack.child.kill("SIGINT");
  expect(await stack.exited).toBe(0);
  expect(stack.output()).toContain("SIGINT: stopping …");
  expect(stack.output()).toContain("stopped.");
  // No Java left behind: the port is free, so the next start can have it.
  expect(await portTaken(dynamoPort)).toBe(false);
});

describe("with no simulated devices and every port 0, and a device of your own", () => {
  // A stack of its own, as `npm start -- --devices 0 …` runs it.
  const own = mkdtempSync(join(tmpdir(), "medusa-stack-own-"));
  const id = "medusa-pi-42";
  const out = join(own, "issued", id);
  let started: ReturnType<typeof medusaStack> | undefined;
  const stack = () => started as ReturnType<typeof medusaStack>;
  let report: { api: string; mqtt: number; plain: number; dynamo: string; token: string };
  beforeAll(async () => {
    started = medusaStack([
      ...["--dir", own, "--devices", "0", "--api-port", "0", "--mqtt-port", "0"],
      ...["--dynamo-port", "0", "--plain-mqtt-port", "0"],
    ]);
    await started.waitFor("Ctrl-C stops everything", 100_000);
    const text = started.output();
    const found = (pattern: RegExp) => pattern.exec(text)?.[1] ?? "";
    report = {
      api: found(/API {10}(http:\/\/127\.0\.0\.1:\d+)/),
      mqtt: Number(found(/MQTT \(TLS\) {3}mqtts:\/\/127\.0\.0\.1:(\d+)/)),
      plain: Number(found(/MQTT plain {3}mqtt:\/\/127\.0\.0\.1:(\d+)/)),
      dynamo: found(/DynamoDB {5}(http:\/\/127\.0\.0\.1:\d+)/),
      token: found(/export TOKEN=(\S+)/),
    };
  });
  afterAll(async () => {
    if (started?.child.exitCode === null) {
      started.child.kill("SIGINT");
      await started.exited;
    }
    rmSync(own, { recursive: true, force: true });
  });

  const api = async (path: string, body?: unknown) => {
    const response = await fetch(`${report.api}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { authorization: `Bearer ${report.token}`, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  };
  /** Connected over TLS as the issued device, with the issued files. */
  const asDevice = () =>
    mqtt.connectAsync(`mqtts://127.0.0.1:${report.mqtt}`, {
      clientId: id,
      ca: readFileSync(join(out, "ca.pem")),
      cert: readFileSync(join(out, `${id}.cert.pem`)),
      key: readFileSync(join(out, `${id}.key.pem`)),
      reconnectPeriod: 0,
    });
  const closed = (client: mqtt.MqttClient) =>
    new Promise<void>((resolve) => client.once("close", () => resolve()));
  const batch = (first: number, count: number): string =>
    encodeSampleBatch(
      Array.from(
        { length: count },
        (_, i): Sample => ({
          timestamp: (Date.now() + i * 100) as EpochMillis,
          sequence: first + i,
          x: 0.01,
          y: -0.02,
          z: 0.98,
          magnitude: Math.sqrt(0.01 ** 2 + 0.02 ** 2 + 0.98 ** 2),
        }),
      ),
    );

  it("starts with no simulated devices and no device certificates, on free ports the report names", async () => {
    const text = stack().output();
    expect(text).toContain("Devices      (none)");
    expect(text).toContain(
      `npm start -- issue-device medusa-pi-01 --mqtt-port ${report.mqtt} --dir ${own}`,
    );
    expect(readdirSync(join(own, "certs")).filter((f) => f.startsWith("client-"))).toEqual([
      "client-medusa-cloud.key",
      "client-medusa-cloud.pem",
    ]);
    expect(existsSync(join(own, "devices"))).toBe(false);
    // Port 0 took a free port for each; the report shows the real one, and it answers.
    for (const port of [report.api, report.dynamo].map((u) => Number(new URL(u).port)))
      expect(port).toBeGreaterThan(0);
    expect(report.mqtt).toBeGreaterThan(0);
    expect(report.plain).toBeGreaterThan(0);
    expect((await fetch(`${report.api}/openapi.json`)).status).toBe(200);
    expect((await fetch(report.dynamo)).status).toBeGreaterThan(0); // DynamoDB Local answers HTTP
    const local = await mqtt.connectAsync(`mqtt://127.0.0.1:${report.plain}`, {
      clientId: "cli-test-tool",
      reconnectPeriod: 0,
    });
    await local.endAsync();
  });

  it("issue-device writes a certificate, its key, the CA and a configuration the agent loads as it is; it starts nothing", async () => {
    const issued = medusaStack(["issue-device", id, "--dir", own, "--mqtt-port", `${report.mqtt}`]);
    expect(await issued.exited).toBe(0);
    const text = issued.output();
    expect(text).not.toContain("MeDUSA Link local stack");
    expect(text).toContain(
      `mosquitto_pub -h 127.0.0.1 -p ${report.mqtt} -i ${id} --cafile ${out}/ca.pem --cert ${out}/${id}.cert.pem --key ${out}/${id}.key.pem -q 1 -t medusa/${id}/sensor/data -m '{"x":0.01,"y":-0.02,"z":0.98,"sequence":1}'`,
    );
    expect(text).toContain(`pnpm --filter @medusa/device start --config ${out}/medusa-device.toml`);
    for (const file of ["ca.pem", `${id}.cert.pem`, `${id}.key.pem`, "medusa-device.toml"])
      expect([file, statSync(join(out, file)).mode & 0o777]).toEqual([file, 0o600]);
    expect(readFileSync(join(out, "ca.pem"), "utf8")).toBe(
      readFileSync(join(own, "certs", "ca.pem"), "utf8"),
    );

    // The agent's own loader, from another working directory: paths are the file's folder's.
    const config = Either.getOrThrow(
      loadConfig(join(out, "medusa-device.toml"), { env: {}, cwd: tmpdir() }),
    );
    expect(config).toMatchObject({
      deviceId: id,
      mqtt: {
        host: "127.0.0.1",
        port: report.mqtt,
        clientId: id,
        caPath: join(out, "ca.pem"),
        certPath: join(out, `${id}.cert.pem`),
        keyPath: join(out, `${id}.key.pem`),
      },
      // Sensor data with Basic Ingest to the stack's rule, as register-device writes for AWS.
      topics: {
        sensorData: `$aws/rules/medusa_local_sensor_data/medusa/${id}/sensor/data`,
        basicIngestRule: "medusa_local_sensor_data",
      },
      outbox: { path: join(out, "outbox") },
      // agent.update's download trusts the stack's CA, which signs the bundle bucket's certificate.
      jobs: { updateCaFile: join(out, "ca.pem") },
      warnings: [],
    });
  });

  it("a device with the issued files publishes a batch to the running stack over TLS, and it is stored", async () => {
    const assigned = await api("/api/devices/assign", { device_id: id, patient_id: "P-042" });
    expect(assigned.status).toBe(201);
    const since = (assigned.json.assignment as { assignment_timestamp: number })
      .assignment_timestamp;
    const device = await asDevice();
    await device.publishAsync(`medusa/${id}/sensor/data`, batch(0, 10), { qos: 1 }); // PUBACK
    await device.endAsync();
    let stored: Array<{ device_id: string; sequence: number }> = [];
    for (let i = 0; i < 100 && stored.length < 10; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const page = await api(
        `/api/patients/P-042/sensor-data?start_time=${since - 5_000}&end_time=${Date.now() + 1_000}&limit=100`,
      );
      stored = page.json.data as typeof stored;
    }
    expect(stored.map((s) => [s.device_id, s.sequence])).toEqual(
      Array.from({ length: 10 }, (_, i) => [id, i]),
    );
  });

  it("drops a forbidden publish at QoS 0 without telling the sender; at QoS 1 the sender sees it: no PUBACK, the connection closed", async () => {
    const forbidden = "medusa/medusa-sim-99/sensor/data";
    // A local tool on the plain listener (a cloud service's rights) sees what is delivered.
    const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${report.plain}`, {
      clientId: "cli-test-watcher",
      reconnectPeriod: 0,
    });
    const delivered: Array<string> = [];
    watcher.on("message", (topic) => delivered.push(topic));
    await watcher.subscribeAsync("medusa/+/sensor/data", { qos: 1 });

    // QoS 0: the publish "succeeds" (nothing comes back at QoS 0), the broker closes the connection.
    const quiet = await asDevice();
    const quietClosed = closed(quiet);
    await expect(quiet.publishAsync(forbidden, batch(100, 5), { qos: 0 })).resolves.toBeUndefined();
    await quietClosed;

    // QoS 1: no PUBACK comes; the connection closes with the publish unacknowledged.
    const loud = await asDevice();
    const loudClosed = closed(loud);
    let acknowledged = false;
    const publishing = loud.publishAsync(forbidden, batch(200, 5), { qos: 1 }).then(() => {
      acknowledged = true;
    });
    await loudClosed;
    expect(acknowledged).toBe(false);
    loud.end(true); // mqtt.js fails what it still holds: the sender knows it was not delivered
    await expect(publishing).rejects.toThrow("Connection closed");

    await new Promise((r) => setTimeout(r, 300));
    await watcher.endAsync();
    expect(delivered).not.toContain(forbidden);
    // Both refusals are logged by the stack (a warning, printed).
    const refusals = stack()
      .output()
      .split("\n")
      .filter((l) => l.includes('"msg":"refused"') && l.includes(`"topic":"${forbidden}"`));
    expect(refusals).toHaveLength(2);
  });

  it("stops cleanly on Ctrl-C, leaving everything it and issue-device wrote owner-only", async () => {
    stack().child.kill("SIGINT");
    expect(await stack().exited).toBe(0);
    expect(stack().output()).toContain("stopped.");
    expect(openToOthers(own)).toEqual([]);
  });
});

it("issue-device refuses an invalid device id, says why, and writes nothing", async () => {
  const nowhere = join(dir, "never-made");
  for (const [bad, why] of [
    ["medusa/pi-01", "a device id is 1-128 characters of [a-zA-Z0-9:_-] (AWS IoT thing name)"],
    ["medusa-cloud", "medusa-cloud is the local stack's cloud-service identity"],
    [
      "provision-0001",
      "provision-0001 starts provision-, the client ids of devices still on a claim",
    ],
  ] as const) {
    const issued = medusaStack(["issue-device", bad, "--dir", nowhere]);
    expect(await issued.exited).toBe(2);
    expect(issued.output()).toContain(why);
  }
  expect(existsSync(nowhere)).toBe(false);
});
