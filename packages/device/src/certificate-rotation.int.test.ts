import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import {
  type CertificateRegistry,
  createCertificateRegistry,
  type LocalBroker,
  rotationPreProvisioningHook,
  startCertificateRetirement,
  startFleetProvisioning,
  startLocalBroker,
} from "@medusa/adapters/broker";
import { connectOnce } from "@medusa/adapters/mqtt";
import { certificateRotationTemplate, TemplateName } from "@medusa/domain";
import { Schema } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificateIdOfPem } from "./certificate-rotation.js";
import { certificateSigningRequest, deviceKey } from "./provisioning.js";
import { type StartOptions, startDevice } from "./run.js";
import { eventually, recordSamples, testFolder, writeConfig } from "./testing/testbed.js";

// certificate.rotate end to end on the local broker as the stack runs it: real TLS, the
// certificate registry, fleet provisioning's MQTT API with a rotation template and its hook,
// the Jobs emulation, and the retirement of the old certificate on the SUCCEEDED event.
const template = (name: string) => Schema.decodeSync(TemplateName)(name);
const ROTATION = template("medusa-test-rotation");
/** A template that leaves the new certificate INACTIVE: it cannot connect. */
const BROKEN = template("medusa-broken-rotation");
const IDS = ["pi-r1", "pi-r2", "pi-r3", "pi-r4"];

let folder: Awaited<ReturnType<typeof testFolder>>;
let broker: LocalBroker;
let registry: CertificateRegistry;
let samples: ReturnType<typeof recordSamples>;

beforeAll(async () => {
  folder = await testFolder(IDS);
  registry = createCertificateRegistry();
  broker = await startLocalBroker({
    port: 0,
    tls: { ca: folder.certs.ca, ...folder.certs.server },
    principalOf: registry.principalOf,
  });
  const body = certificateRotationTemplate({ devicePolicyNames: ["medusa-test-device"] });
  startFleetProvisioning(broker, {
    ca: folder.certs.authority,
    registry,
    templates: {
      [ROTATION]: { body, preProvisioningHook: rotationPreProvisioningHook() },
      [BROKEN]: {
        body: {
          ...body,
          Resources: {
            ...body.Resources,
            certificate: {
              ...body.Resources.certificate,
              Properties: { ...body.Resources.certificate.Properties, Status: "Inactive" },
            },
          },
        },
        preProvisioningHook: rotationPreProvisioningHook(),
      },
    },
  });
  startCertificateRetirement(broker, {
    registry,
    operationOf: (jobId) => {
      const job = broker.jobs?.describeJob(jobId);
      return job?.ok ? String(job.value.document.operation) : undefined;
    },
  });
  samples = recordSamples(broker);
}, 30_000);
afterAll(async () => {
  await broker?.close();
  folder?.remove();
});

const fast: StartOptions = {
  log: () => {},
  shadow: { timeoutMs: 2_000, retryMs: 500, reportEveryMs: 60_000 },
  jobs: { timeoutMs: 5_000, retryMs: 200 },
};
const rotate = async (thing: string, jobId: string, name: string) => {
  const created = await broker.jobs?.createJob({
    jobId,
    targets: [thing],
    document: JSON.stringify({ operation: "certificate.rotate", template: name }),
  });
  expect(created?.ok).toBe(true);
};
const execution = (thing: string, jobId: string) => {
  const found = broker.jobs?.describeJobExecution(jobId, thing);
  return found?.ok ? found.value.execution : undefined;
};
const ended = (thing: string, jobId: string) => () =>
  ["SUCCEEDED", "FAILED", "REJECTED"].includes(execution(thing, jobId)?.status ?? "");
const dataFrom = (thing: string) => samples.filter((s) => s.topic.includes(`/${thing}/`)).length;
const connectWith = (cert: string, key: string, clientId: string) =>
  connectOnce(
    { host: "127.0.0.1", port: broker.port, clientId, ca: folder.certs.ca, cert, key },
    10_000,
  );

describe("certificate.rotate on the local stack's broker", () => {
  it("rotates: the new certificate connects, the old is refused once SUCCEEDED, data keeps flowing", async () => {
    const { config } = writeConfig(folder.dir, folder.certs, "pi-r1", broker.port);
    const oldCert = readFileSync(config.mqtt.certPath, "utf8");
    const oldKey = readFileSync(config.mqtt.keyPath, "utf8");
    const oldId = certificateIdOfPem(oldCert);
    const device = await startDevice(config, fast);
    try {
      await eventually(() => device.transport.connected, "connected");
      await rotate("pi-r1", "rotate-ok", ROTATION);
      await eventually(ended("pi-r1", "rotate-ok"), "rotate-ok ended", 30_000);
      const done = execution("pi-r1", "rotate-ok");
      expect(done?.status, JSON.stringify(done?.statusDetails)).toBe("SUCCEEDED");
      const newId = done?.statusDetails?.certificate_id;
      expect(newId).toMatch(/^[0-9a-f]{64}$/);
      expect(newId).not.toBe(oldId);
      expect(done?.statusDetails?.previous_certificate_id).toBe(oldId);
      // The files: the new pair in place (key 0600), the old kept as .previous.
      expect(certificateIdOfPem(readFileSync(config.mqtt.certPath, "utf8"))).toBe(newId);
      expect(readFileSync(`${config.mqtt.certPath}.previous`, "utf8")).toBe(oldCert);
      expect(readFileSync(`${config.mqtt.keyPath}.previous`, "utf8")).toBe(oldKey);
      expect(statSync(config.mqtt.keyPath).mode & 0o777).toBe(0o600);
      // The cloud: the new certificate is the thing's and ACTIVE, the old one deactivated.
      expect(registry.certificate(newId ?? "")).toMatchObject({
        status: "ACTIVE",
        thingName: "pi-r1",
      });
      await eventually(
        () => registry.certificate(oldId)?.status === "INACTIVE",
        "old certificate INACTIVE",
      );
      expect(registry.thing("pi-r1")?.principals).toEqual(expect.arrayContaining([oldId, newId]));
      // The old certificate is refused at connect; the device goes on with the new one.
      await expect(connectWith(oldCert, oldKey, "pi-r1-old")).rejects.toThrow();
      const before = dataFrom("pi-r1");
      await eventually(() => dataFrom("pi-r1") > before + 2, "data after the rotation");
      expect(device.transport.connected).toBe(true);
    } finally {
      await device.stop();
    }
    // A restart reads the new files and connects with them.
    const again = await startDevice(config, fast);
    try {
      await eventually(() => again.transport.connected, "connected after a restart");
    } finally {
      await again.stop();
    }
  }, 60_000);

  it("a refused request: FAILED with AWS's reason, the device stays online with its old certificate", async () => {
    const { config } = writeConfig(folder.dir, folder.certs, "pi-r2", broker.port);
    const oldCert = readFileSync(config.mqtt.certPath, "utf8");
    const device = await startDevice(config, fast);
    try {
      await eventually(() => device.transport.connected, "connected");
      await rotate("pi-r2", "rotate-unknown", "medusa-gone-rotation");
      await eventually(ended("pi-r2", "rotate-unknown"), "rotate-unknown ended", 30_000);
      const done = execution("pi-r2", "rotate-unknown");
      expect(done?.status).toBe("FAILED");
      expect(done?.statusDetails?.reason).toContain("RegisterThing refused: 404");
      expect(readFileSync(config.mqtt.certPath, "utf8")).toBe(oldCert);
      expect(device.transport.connected).toBe(true);
      const before = dataFrom("pi-r2");
      await eventually(() => dataFrom("pi-r2") > before + 2, "data after the failed rotation");
      // Nothing was deactivated.
      expect(
        registry.certificates().filter((c) => c.thingName === "pi-r2" && c.status === "INACTIVE"),
      ).toEqual([]);
    } finally {
      await device.stop();
    }
  }, 60_000);

  it("a new certificate that cannot connect: back on the old one, FAILED, the old one still ACTIVE", async () => {
    const { config } = writeConfig(folder.dir, folder.certs, "pi-r3", broker.port);
    const oldCert = readFileSync(config.mqtt.certPath, "utf8");
    const oldKey = readFileSync(config.mqtt.keyPath, "utf8");
    const oldId = certificateIdOfPem(oldCert);
    const device = await startDevice(config, fast);
    try {
      await eventually(() => device.transport.connected, "connected");
      await rotate("pi-r3", "rotate-broken", BROKEN);
      await eventually(ended("pi-r3", "rotate-broken"), "rotate-broken ended", 30_000);
      const done = execution("pi-r3", "rotate-broken");
      expect(done?.status).toBe("FAILED");
      expect(done?.statusDetails?.reason).toContain("did not connect");
      expect(readFileSync(config.mqtt.certPath, "utf8")).toBe(oldCert);
      expect(readFileSync(config.mqtt.keyPath, "utf8")).toBe(oldKey);
      expect(registry.certificate(oldId)?.status).toBe("ACTIVE");
      await eventually(() => device.transport.connected, "connected again with the old one");
      const before = dataFrom("pi-r3");
      await eventually(() => dataFrom("pi-r3") > before + 2, "data after the failed rotation");
    } finally {
      await device.stop();
    }
  }, 60_000);

  it("a device may not rotate another thing's certificate (the hook refuses)", async () => {
    // pi-r4 connects as itself but names pi-r1: RegisterThing is refused, nothing attached.
    const { config } = writeConfig(folder.dir, folder.certs, "pi-r4", broker.port);
    const cert = readFileSync(config.mqtt.certPath, "utf8");
    const key = readFileSync(config.mqtt.keyPath, "utf8");
    const { default: mqtt } = await import("mqtt");
    const client = await mqtt.connectAsync({
      protocol: "mqtts",
      host: "127.0.0.1",
      port: broker.port,
      clientId: "pi-r4",
      ca: folder.certs.ca,
      cert,
      key,
      reconnectPeriod: 0,
    });
    try {
      const answers: Array<[string, string]> = [];
      client.on("message", (t, payload) => answers.push([t, payload.toString()]));
      const csr = "$aws/certificates/create-from-csr/json";
      const register = `$aws/provisioning-templates/${ROTATION}/provision/json`;
      await client.subscribeAsync(
        [csr, register].flatMap((t) => [`${t}/accepted`, `${t}/rejected`]),
        { qos: 1 },
      );
      const { keys } = await deviceKey(join(folder.dir, "pi-r4-next.key"));
      await client.publishAsync(
        csr,
        JSON.stringify({
          certificateSigningRequest: await certificateSigningRequest(keys, "pi-r4"),
        }),
        { qos: 1 },
      );
      await eventually(() => answers.length === 1, "CreateCertificateFromCsr answered");
      const [topic, body] = answers[0] ?? ["", "{}"];
      expect(topic).toBe(`${csr}/accepted`);
      const { certificateOwnershipToken, certificateId } = JSON.parse(body) as Record<
        string,
        string
      >;
      const principals = registry.thing("pi-r1")?.principals.length ?? 0;
      await client.publishAsync(
        register,
        JSON.stringify({ certificateOwnershipToken, parameters: { ThingName: "pi-r1" } }),
        { qos: 1 },
      );
      await eventually(() => answers.length === 2, "RegisterThing answered");
      expect(answers[1]?.[0]).toBe(`${register}/rejected`);
      expect(JSON.parse(answers[1]?.[1] ?? "{}")).toMatchObject({ statusCode: 403 });
      expect(registry.thing("pi-r1")?.principals.length ?? 0).toBe(principals);
      expect(registry.certificate(certificateId ?? "")?.status).toBe("PENDING_ACTIVATION");
    } finally {
      await client.endAsync();
    }
  }, 30_000);
});
