import { webcrypto } from "node:crypto";
import {
  AllowList,
  CREATE_CERTIFICATE_FROM_CSR,
  checkPreProvisioning,
  epochMillis,
  fleetProvisioningTemplate,
  hookResponse,
  registerThingTopics,
  SerialNumber,
  TemplateName,
} from "@medusa/domain";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { Effect, Layer, Schema } from "effect";
import mqtt, { type MqttClient } from "mqtt";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { makeInMemoryAllowList } from "../memory/allow-list.js";
import {
  type CertificateRegistry,
  certificateIdOfPem,
  createCertificateRegistry,
} from "./certificate-registry.js";
import { createDevCa, type DevCa, issueServerCert, type KeyAndCert } from "./dev-ca.js";
import {
  type FleetProvisioning,
  issueClaimCertificate,
  startFleetProvisioning,
} from "./fleet-provisioning.js";
import { type LocalBroker, startLocalBroker } from "./local-broker.js";

const TEMPLATE = Schema.decodeSync(TemplateName)("medusa-fleet");
const SLOW = Schema.decodeSync(TemplateName)("slow-hook");
const serial = (s: string) => Schema.decodeSync(SerialNumber)(s);
const LISTED = serial("10000000aaaa0001");
const LISTED_2 = serial("10000000aaaa0002");

let ca: DevCa;
let broker: LocalBroker;
let registry: CertificateRegistry;
let provisioning: FleetProvisioning;
let claim: KeyAndCert & { certificateId: string };
let clock = Date.now();
const hookEvents: Array<unknown> = [];
const open: Array<MqttClient> = [];

beforeAll(async () => {
  ca = await createDevCa();
  registry = createCertificateRegistry();
  const allowList = makeInMemoryAllowList();
  await Effect.runPromise(
    allowList.add(
      [LISTED, LISTED_2].map((serialNumber) => ({
        serialNumber,
        addedAt: epochMillis(1_764_000_000_000),
      })),
    ),
  );
  broker = await startLocalBroker({
    tls: { ca: ca.cert, ...(await issueServerCert(ca)) },
    principalOf: registry.principalOf,
  });
  const body = fleetProvisioningTemplate({
    devicePolicyNames: [
      "medusa-local-device",
      "medusa-local-device-shadow",
      "medusa-local-device-jobs",
    ],
  });
  provisioning = startFleetProvisioning(broker, {
    ca,
    registry,
    now: () => clock,
    hookTimeoutMs: 300,
    templates: {
      [TEMPLATE]: {
        body,
        // The hook's code, as the Lambda function runs it.
        preProvisioningHook: (event) => {
          hookEvents.push(event);
          return Effect.runPromise(
            checkPreProvisioning(event).pipe(
              Effect.map(hookResponse),
              Effect.provide(Layer.succeed(AllowList, allowList)),
            ),
          );
        },
      },
      [SLOW]: { body, preProvisioningHook: () => new Promise(() => {}) },
    },
  });
  claim = await issueClaimCertificate(ca, registry, [TEMPLATE, SLOW]);
});
afterEach(async () => {
  clock = Date.now();
  await Promise.all(open.splice(0).map((c) => c.endAsync(true).catch(() => {})));
});
afterAll(async () => {
  provisioning.stop();
  await broker.close();
});

const connect = (clientId: string, pair: KeyAndCert) => {
  const c = mqtt.connect({
    protocol: "mqtts",
    host: "127.0.0.1",
    port: broker.port,
    clientId,
    ca: ca.cert,
    cert: pair.cert,
    key: pair.key,
    reconnectPeriod: 0,
    connectTimeout: 3_000,
  });
  c.on("error", () => {});
  open.push(c);
  return new Promise<MqttClient>((resolve, reject) => {
    c.once("connect", () => resolve(c));
    c.once("error", reject);
    c.once("close", () => reject(new Error("closed before CONNACK")));
  });
};

const ANSWERS = [
  CREATE_CERTIFICATE_FROM_CSR,
  registerThingTopics(TEMPLATE),
  registerThingTopics(SLOW),
].flatMap((t) => [t.accepted, t.rejected]);

/** A device holding the claim certificate, subscribed to the answers, as the SDK's sample does. */
const claimClient = async (id = `provision-${Math.random().toString(36).slice(2)}`) => {
  const c = await connect(id, claim);
  await c.subscribeAsync(ANSWERS, { qos: 1 });
  const inbox: Array<{ topic: string; body: Record<string, unknown> }> = [];
  c.on("message", (topic, payload) => inbox.push({ topic, body: JSON.parse(payload.toString()) }));
  /** Publishes and waits for the answer on `accepted` or `rejected`. */
  const call = async (
    topics: { request: string; accepted: string; rejected: string },
    body: unknown,
  ) => {
    const before = inbox.length;
    await c.publishAsync(topics.request, typeof body === "string" ? body : JSON.stringify(body), {
      qos: 1,
    });
    for (let i = 0; i < 200; i++) {
      const got = inbox
        .slice(before)
        .find((m) => m.topic === topics.accepted || m.topic === topics.rejected);
      if (got) return { accepted: got.topic === topics.accepted, body: got.body };
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no answer on ${topics.accepted} or ${topics.rejected}`);
  };
  return { client: c, inbox, call };
};

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const keyAndCsr = async () => {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: [{ CN: ["medusa-device"] }],
    keys: keys as unknown as Parameters<
      typeof x509.Pkcs10CertificateRequestGenerator.create
    >[0]["keys"],
    signingAlgorithm: ALGORITHM,
  });
  const key = x509.PemConverter.encode(
    await webcrypto.subtle.exportKey("pkcs8", keys.privateKey),
    "PRIVATE KEY",
  );
  return { key, csr: csr.toString("pem") };
};

/** CreateCertificateFromCsr then RegisterThing, as a device does. */
const provision = async (
  device: Awaited<ReturnType<typeof claimClient>>,
  parameters: Record<string, string>,
  template = TEMPLATE,
) => {
  const { key, csr } = await keyAndCsr();
  const created = await device.call(CREATE_CERTIFICATE_FROM_CSR, {
    certificateSigningRequest: csr,
  });
  expect(created.accepted).toBe(true);
  const registered = await device.call(registerThingTopics(template), {
    certificateOwnershipToken: created.body.certificateOwnershipToken,
    parameters,
  });
  return { key, created: created.body, registered };
};

describe("CreateCertificateFromCsr", () => {
  it("signs the device's CSR with the CA: its key, its subject, the id AWS gives (SHA-256 of the DER), pending", async () => {
    const device = await claimClient();
    const { csr } = await keyAndCsr();
    const r = await device.call(CREATE_CERTIFICATE_FROM_CSR, { certificateSigningRequest: csr });
    expect(r.accepted).toBe(true);
    const pem = r.body.certificatePem as string;
    const certificate = new x509.X509Certificate(pem);
    expect(await certificate.verify({ publicKey: ca.certificate.publicKey })).toBe(true);
    expect(certificate.subject).toBe("CN=medusa-device");
    expect(r.body.certificateId).toBe(certificateIdOfPem(pem));
    expect(r.body.certificateOwnershipToken).toEqual(expect.any(String));
    expect(registry.certificate(r.body.certificateId as string)?.status).toBe("PENDING_ACTIVATION");
  });

  it("refuses a CSR that is not one, or whose signature fails, and a payload that is not the request", async () => {
    const device = await claimClient();
    const { csr } = await keyAndCsr();
    const other = await keyAndCsr();
    // The body of one CSR with the signature of another.
    const der = Buffer.from(x509.PemConverter.decodeFirst(csr));
    const forged = Buffer.from(x509.PemConverter.decodeFirst(other.csr));
    der.set(forged.subarray(forged.length - 8), der.length - 8);
    const cases = [
      [
        {
          certificateSigningRequest:
            "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----",
        },
        400,
        "InvalidCsr",
      ],
      [
        { certificateSigningRequest: x509.PemConverter.encode(der, "CERTIFICATE REQUEST") },
        400,
        "InvalidCsr",
      ],
      [{ csr }, 400, "InvalidPayload"],
      ["not json", 400, "InvalidPayload"],
    ] as const;
    for (const [body, statusCode, errorCode] of cases) {
      const r = await device.call(CREATE_CERTIFICATE_FROM_CSR, body);
      expect(r, JSON.stringify(body).slice(0, 60)).toEqual({
        accepted: false,
        body: { statusCode, errorCode, errorMessage: expect.any(String) },
      });
    }
  });
});

describe("RegisterThing", () => {
  it("a listed serial becomes its thing: certificate active, attached; the device connects as the thing with the thing's rights", async () => {
    const device = await claimClient();
    const { key, created, registered } = await provision(device, { SerialNumber: LISTED });
    expect(registered).toEqual({
      accepted: true,
      body: { thingName: `medusa-${LISTED}`, deviceConfiguration: {} },
    });
    const event = hookEvents.at(-1) as Record<string, unknown>;
    expect(event).toEqual({
      claimCertificateId: claim.certificateId,
      certificateId: created.certificateId,
      certificatePem: created.certificatePem,
      templateArn: `arn:aws:iot:local:000000000000:provisioningtemplate/${TEMPLATE}`,
      clientId: device.client.options.clientId,
      parameters: { SerialNumber: LISTED },
    });
    expect(registry.thing(`medusa-${LISTED}`)).toMatchObject({
      attributes: { serial_number: LISTED },
      principals: [created.certificateId],
    });
    expect(registry.certificate(created.certificateId as string)).toMatchObject({
      status: "ACTIVE",
      thingName: `medusa-${LISTED}`,
      policyNames: [
        "medusa-local-device",
        "medusa-local-device-shadow",
        "medusa-local-device-jobs",
      ],
    });

    const thing = await connect(`medusa-${LISTED}`, {
      cert: created.certificatePem as string,
      key,
    });
    await thing.publishAsync(`medusa/medusa-${LISTED}/status`, "{}", { qos: 1 });
    // Its certificate's CN (medusa-device) names nothing: the registry's attachment does.
    await expect(
      connect("medusa-device", { cert: created.certificatePem as string, key }),
    ).rejects.toThrow();
    const closed = new Promise<void>((r) => thing.once("close", () => r()));
    thing.publish("medusa/medusa-other/status", "{}", { qos: 1 });
    await closed;
  });

  it("an unlisted serial, or none, is refused with AccessDenied and nothing is made; the certificate stays unusable", async () => {
    const device = await claimClient();
    const things = registry.things().length;
    for (const parameters of [
      { SerialNumber: "99999999ffff0000" },
      {},
      { SerialNumber: "bad serial" },
    ]) {
      const { key, created, registered } = await provision(device, parameters);
      expect(registered).toEqual({
        accepted: false,
        body: {
          statusCode: 403,
          errorCode: "AccessDenied",
          errorMessage: expect.stringMatching(/Access denied/),
        },
      });
      expect(registry.certificate(created.certificateId as string)?.status).toBe(
        "PENDING_ACTIVATION",
      );
      await expect(
        connect("medusa-99999999ffff0000", { cert: created.certificatePem as string, key }),
      ).rejects.toThrow();
    }
    expect(registry.things()).toHaveLength(things);
  });

  it("one serial is one thing: the same token again gives the same answer; a second certificate joins the same thing", async () => {
    const device = await claimClient();
    const first = await provision(device, { SerialNumber: LISTED_2 });
    const again = await device.call(registerThingTopics(TEMPLATE), {
      certificateOwnershipToken: first.created.certificateOwnershipToken,
      parameters: { SerialNumber: LISTED_2 },
    });
    expect(again).toEqual(first.registered);
    const second = await provision(device, { SerialNumber: LISTED_2 });
    expect(second.registered.body.thingName).toBe(`medusa-${LISTED_2}`);
    expect(registry.things().filter((t) => t.thingName === `medusa-${LISTED_2}`)).toHaveLength(1);
    expect(registry.thing(`medusa-${LISTED_2}`)?.principals).toEqual([
      first.created.certificateId,
      second.created.certificateId,
    ]);
  });

  it("a token that is empty, unknown or over an hour old is InvalidCertificateOwnershipToken; the unused certificate is deleted", async () => {
    const device = await claimClient();
    const topics = registerThingTopics(TEMPLATE);
    expect(await device.call(topics, { certificateOwnershipToken: "", parameters: {} })).toEqual({
      accepted: false,
      body: {
        statusCode: 400,
        errorCode: "InvalidCertificateOwnershipToken",
        errorMessage: "Certificate ownership token cannot be empty.",
      },
    });
    expect(
      (await device.call(topics, { certificateOwnershipToken: "made-up", parameters: {} })).body
        .errorCode,
    ).toBe("InvalidCertificateOwnershipToken");
    const { csr } = await keyAndCsr();
    const created = await device.call(CREATE_CERTIFICATE_FROM_CSR, {
      certificateSigningRequest: csr,
    });
    clock += 3_600_001;
    const late = await device.call(topics, {
      certificateOwnershipToken: created.body.certificateOwnershipToken,
      parameters: { SerialNumber: LISTED },
    });
    expect(late.body.errorCode).toBe("InvalidCertificateOwnershipToken");
    expect(registry.sweep(clock)).toBeGreaterThanOrEqual(1);
    expect(registry.certificate(created.body.certificateId as string)).toBeUndefined();
  });

  it("a hook that does not answer in time denies access", async () => {
    const device = await claimClient();
    const { registered } = await provision(device, { SerialNumber: LISTED }, SLOW);
    expect(registered.body).toMatchObject({ statusCode: 403, errorCode: "AccessDenied" });
  });

  it("answers only the connection that asked", async () => {
    const bystander = await claimClient();
    const device = await claimClient();
    await provision(device, { SerialNumber: LISTED });
    await new Promise((r) => setTimeout(r, 100));
    expect(bystander.inbox).toEqual([]);
  });
});

describe("the claim policy", () => {
  it("connects only with a provision-… client id", async () => {
    await expect(connect("medusa-anything", claim)).rejects.toThrow();
    expect(broker.refusals.at(-1)).toMatchObject({
      action: "connect",
      reason: expect.stringMatching(/provision-/),
    });
  });

  it("subscribes to the provisioning answers only, and publishing elsewhere closes the connection", async () => {
    const device = await claimClient();
    // SUBACK 0x80 for each: mqtt.js reports it as a failed subscribe; the connection stays up.
    await expect(device.client.subscribeAsync(["#", "medusa/+/commands/#"])).rejects.toThrow(
      /Subscribe error/,
    );
    expect(broker.refusals.slice(-2)).toEqual([
      expect.objectContaining({ action: "subscribe", topic: "#" }),
      expect.objectContaining({ action: "subscribe", topic: "medusa/+/commands/#" }),
    ]);
    expect(device.client.connected).toBe(true);
    const closed = new Promise<void>((r) => device.client.once("close", () => r()));
    device.client.publish("medusa/medusa-x/sensor/data", "{}", { qos: 1 });
    await closed;
    expect(broker.refusals.at(-1)).toMatchObject({
      action: "publish",
      reason: expect.stringMatching(/only the provisioning requests/),
    });
  });
});
