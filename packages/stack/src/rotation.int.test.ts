import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectOnce } from "@medusa/adapters/mqtt";
import { loadConfig, type RunningDevice, startDevice } from "@medusa/device";
import { Either } from "effect";
import { afterAll, expect, it } from "vitest";
import { issueDevice } from "./issue-device.js";
import { type Stack, startStack } from "./stack.js";
import { api, eventually } from "./testing/stack-client.js";

// Issue 20's rotation end to end in the local stack: a clinician asks for it through the API
// (`certificate.rotate`, the stack's rotation template filled in), a device issued with
// `issue-device` makes a new key and certificate over AWS IoT's provisioning MQTT API, connects
// with it, reports SUCCEEDED, and only then is its old certificate deactivated and refused.
const dir = mkdtempSync(join(tmpdir(), "medusa-stack-rotation-"));
let stack: Stack | undefined;
let device: RunningDevice | undefined;
afterAll(async () => {
  await device?.stop();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

type Job = { job_id: string; type: string; status: string; status_details: Record<string, string> };
const certificateIdOf = (pem: string) =>
  new X509Certificate(pem).fingerprint256.replaceAll(":", "").toLowerCase();

it("a clinician renews a device's certificate through the API: SUCCEEDED, the device goes on with the new one, the old one is refused", async () => {
  stack = await startStack({ dir, devices: 0, apiPort: 0, mqttPort: 0, dynamoPort: 0 });
  const s = stack;
  const id = "medusa-pi-rotate";
  const issued = await issueDevice({ id, dir, mqttPort: s.mqttPort });
  const loaded = loadConfig(issued.files.config);
  if (Either.isLeft(loaded)) throw new Error(`the issued configuration: ${loaded.left.message}`);
  const config = loaded.right;
  const oldCert = readFileSync(issued.files.cert, "utf8");
  const oldKey = readFileSync(issued.files.key, "utf8");
  device = await startDevice(config, { log: () => {} });
  const d = device;
  await eventually(async () => d.transport.connected, "the device connected");

  const created = await api(s, "POST", `/api/devices/${id}/jobs`, { type: "certificate.rotate" });
  expect(created.status).toBe(201);
  // Queued, or already taken by the connected device by the time the API describes it.
  expect(created.json).toMatchObject({ type: "certificate.rotate" });
  expect(["QUEUED", "IN_PROGRESS"]).toContain(created.json.status);
  const jobId = created.json.job_id as string;
  const job = async () =>
    ((await api(s, "GET", `/api/devices/${id}/jobs`)).json.jobs as Array<Job>).find(
      (j) => j.job_id === jobId,
    );
  await eventually(
    async () => ["SUCCEEDED", "FAILED", "REJECTED"].includes((await job())?.status ?? ""),
    "the rotation ended",
    90_000,
  );
  const done = await job();
  expect(done?.status, JSON.stringify(done?.status_details)).toBe("SUCCEEDED");
  const oldId = certificateIdOf(oldCert);
  const newId = done?.status_details.certificate_id;
  expect(done?.status_details.previous_certificate_id).toBe(oldId);
  expect(newId).toMatch(/^[0-9a-f]{64}$/);
  expect(certificateIdOf(readFileSync(issued.files.cert, "utf8"))).toBe(newId);

  // Only after SUCCEEDED: the old certificate deactivated in the registry and refused at connect.
  await eventually(
    async () => s.registry.certificate(oldId)?.status === "INACTIVE",
    "the old certificate INACTIVE",
  );
  expect(s.registry.certificate(newId ?? "")).toMatchObject({ status: "ACTIVE", thingName: id });
  await expect(
    connectOnce(
      {
        host: "127.0.0.1",
        port: s.mqttPort,
        clientId: `${id}-old`,
        ca: readFileSync(issued.files.ca, "utf8"),
        cert: oldCert,
        key: oldKey,
      },
      10_000,
    ),
  ).rejects.toThrow();
  await eventually(async () => d.transport.connected, "the device online with its new certificate");
}, 240_000);
