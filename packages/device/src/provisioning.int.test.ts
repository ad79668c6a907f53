import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  type CertificateRegistry,
  createCertificateRegistry,
  createDevCa,
  type DevCa,
  type FleetProvisioning,
  issueClaimCertificate,
  issueServerCert,
  type KeyAndCert,
  type LocalBroker,
  startFleetProvisioning,
  startLocalBroker,
} from "@medusa/adapters/broker";
import { makeInMemoryAllowList } from "@medusa/adapters/testing";
import { tempDirs } from "@medusa/adapters/testing/vitest";
import {
  AllowList,
  checkPreProvisioning,
  epochMillis,
  fleetProvisioningTemplate,
  hookResponse,
  SerialNumber,
  TemplateName,
} from "@medusa/domain";
import { Effect, Layer, Schema } from "effect";
import mqtt from "mqtt";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { main } from "./cli.js";
import { firstBoot } from "./first-boot.js";
import {
  PROVISIONING_FILES,
  type ProvisioningOptions,
  ProvisioningRefused,
  provisionDevice,
  serialFromCpuinfo,
} from "./provisioning.js";

const TEMPLATE = Schema.decodeSync(TemplateName)("medusa-fleet");
const serial = (s: string) => Schema.decodeSync(SerialNumber)(s);
const LISTED = [
  "10000000cafe0001",
  "10000000cafe0002",
  "10000000cafe0003",
  "10000000cafe0004",
  "10000000cafe0005",
].map(serial);

const dirs = tempDirs("medusa-provision-");
let ca: DevCa;
let broker: LocalBroker;
let registry: CertificateRegistry;
let provisioning: FleetProvisioning;
let claim: KeyAndCert;

beforeAll(async () => {
  ca = await createDevCa();
  registry = createCertificateRegistry();
  const allowList = makeInMemoryAllowList();
  await Effect.runPromise(
    allowList.add(LISTED.map((serialNumber) => ({ serialNumber, addedAt: epochMillis(1) }))),
  );
  broker = await startLocalBroker({
    tls: { ca: ca.cert, ...(await issueServerCert(ca)) },
    principalOf: registry.principalOf,
  });
  provisioning = startFleetProvisioning(broker, {
    ca,
    registry,
    templates: {
      [TEMPLATE]: {
        body: fleetProvisioningTemplate({
          devicePolicyNames: [
            "medusa-local-device",
            "medusa-local-device-shadow",
            "medusa-local-device-jobs",
          ],
        }),
        preProvisioningHook: (event) =>
          Effect.runPromise(
            checkPreProvisioning(event).pipe(
              Effect.map(hookResponse),
              Effect.provide(Layer.succeed(AllowList, allowList)),
            ),
          ),
      },
    },
  });
  claim = await issueClaimCertificate(ca, registry, [TEMPLATE]);
});
afterAll(async () => {
  provisioning.stop();
  await broker.close();
});

const options = (serialNumber: SerialNumber, dir: string): ProvisioningOptions => ({
  broker: { host: "127.0.0.1", port: broker.port, caPem: ca.cert },
  claim: { certPem: claim.cert, keyPem: claim.key },
  template: TEMPLATE,
  serialNumber,
  dir,
  maxAttempts: 3,
  backoff: { baseMs: 10, capMs: 50 },
  answerTimeoutMs: 3_000,
});

/** Connects as the thing with what provisioning stored, publishes its status, and disconnects. */
const publishAsThing = async (thingName: string, dir: string) => {
  const c = await mqtt.connectAsync({
    protocol: "mqtts",
    host: "127.0.0.1",
    port: broker.port,
    clientId: thingName,
    ca: ca.cert,
    cert: readFileSync(join(dir, PROVISIONING_FILES.certificate), "utf8"),
    key: readFileSync(join(dir, PROVISIONING_FILES.key), "utf8"),
    reconnectPeriod: 0,
  });
  try {
    await c.publishAsync(`medusa/${thingName}/status`, "{}", { qos: 1 });
  } finally {
    await c.endAsync();
  }
};

describe("first boot with the claim certificate", () => {
  it("reads the serial number from /proc/cpuinfo", () => {
    expect(
      serialFromCpuinfo(
        "processor\t: 0\nHardware\t: BCM2835\nSerial\t\t: 10000000abcdef01\nModel\t\t: Raspberry Pi 4\n",
      ),
    ).toBe("10000000abcdef01");
    expect(serialFromCpuinfo("processor\t: 0\n")).toBeUndefined();
  });

  it("makes its key (0600), gets a certificate for it, becomes its thing, publishes as it; a second boot asks nothing", async () => {
    const dir = dirs();
    const issued = provisioning.stats().certificatesIssued;
    const first = await provisionDevice(options(LISTED[0] as SerialNumber, dir));
    expect(first).toMatchObject({ thingName: `medusa-${LISTED[0]}`, provisionedNow: true });
    expect(statSync(first.keyPath).mode & 0o777).toBe(0o600);
    expect(registry.thing(first.thingName)?.principals).toEqual([first.certificateId]);
    await publishAsThing(first.thingName, dir);

    const second = await provisionDevice(options(LISTED[0] as SerialNumber, dir));
    expect(second).toEqual({ ...first, provisionedNow: false });
    expect(provisioning.stats().certificatesIssued).toBe(issued + 1);
  });

  it("an unknown serial is refused, clearly, without retrying, and nothing is made", async () => {
    const things = registry.things().length;
    const refused = await provisionDevice(options(serial("99999999dead0000"), dirs())).catch(
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(ProvisioningRefused);
    expect(refused).toMatchObject({
      operation: "RegisterThing",
      statusCode: 403,
      errorCode: "AccessDenied",
      message: expect.stringMatching(/^RegisterThing refused: 403 AccessDenied: Access denied/),
    });
    expect(registry.things()).toHaveLength(things);
  });

  it("a power cut between the two calls: the next boot registers the certificate it has, with the same key", async () => {
    const dir = dirs();
    const opts = options(LISTED[1] as SerialNumber, dir);
    const issued = provisioning.stats().certificatesIssued;
    // The power goes just after the certificate and its token were written down.
    const cut = await provisionDevice({
      ...opts,
      maxAttempts: 1,
      log: (e) => {
        if (e.msg === "certificate issued") throw new Error("power cut");
      },
    }).catch((e: unknown) => e);
    expect(cut).toMatchObject({ _tag: "ProvisioningFailed", reason: "power cut" });
    const state = JSON.parse(readFileSync(join(dir, PROVISIONING_FILES.state), "utf8"));
    const key = readFileSync(join(dir, PROVISIONING_FILES.key), "utf8");
    expect(registry.things().some((t) => t.thingName === `medusa-${LISTED[1]}`)).toBe(false);

    const resumed = await provisionDevice(opts);
    expect(resumed.certificateId).toBe(state.pending.certificateId);
    expect(readFileSync(join(dir, PROVISIONING_FILES.key), "utf8")).toBe(key);
    expect(provisioning.stats().certificatesIssued).toBe(issued + 1);
    await publishAsThing(resumed.thingName, dir);
  });

  it("a power cut after the key was made: the key is reused, not a second one", async () => {
    const dir = dirs();
    const opts = options(LISTED[2] as SerialNumber, dir);
    await provisionDevice({
      ...opts,
      maxAttempts: 1,
      log: (e) => {
        if (e.msg === "device key made") throw new Error("power cut");
      },
    }).catch(() => {});
    const key = readFileSync(join(dir, PROVISIONING_FILES.key), "utf8");
    const done = await provisionDevice(opts);
    expect(readFileSync(join(dir, PROVISIONING_FILES.key), "utf8")).toBe(key);
    await publishAsThing(done.thingName, dir);
  });

  it("a token past its hour: a new certificate for the same key, the same thing", async () => {
    const dir = dirs();
    const opts = options(LISTED[3] as SerialNumber, dir);
    await provisionDevice({
      ...opts,
      maxAttempts: 1,
      log: (e) => {
        if (e.msg === "certificate issued") throw new Error("power cut");
      },
    }).catch(() => {});
    const stale = JSON.parse(readFileSync(join(dir, PROVISIONING_FILES.state), "utf8"));
    const done = await provisionDevice({ ...opts, now: () => Date.now() + 3_600_000 });
    expect(done.certificateId).not.toBe(stale.pending.certificateId);
    expect(registry.thing(done.thingName)?.principals).toEqual([done.certificateId]);
    await publishAsThing(done.thingName, dir);
  });

  it("a broker that cannot be reached is retried with backoff, then reported", async () => {
    const failed = await provisionDevice({
      ...options(LISTED[0] as SerialNumber, dirs()),
      broker: { host: "127.0.0.1", port: 1, caPem: ca.cert },
    }).catch((e: unknown) => e);
    expect(failed).toMatchObject({ _tag: "ProvisioningFailed", attempts: 3 });
  });
});

describe("the agent with a [provisioning] table", () => {
  it("provisions itself from /proc/cpuinfo's serial on first boot, then checks and connects as the thing", async () => {
    const dir = dirs();
    writeFileSync(join(dir, "ca.pem"), ca.cert);
    writeFileSync(join(dir, "claim.pem"), claim.cert);
    writeFileSync(join(dir, "claim.key"), claim.key, { mode: 0o600 });
    const file = join(dir, "mqtt_publisher.toml");
    writeFileSync(
      file,
      [
        "[mqtt]",
        'broker_host = "127.0.0.1"',
        `broker_port = ${broker.port}`,
        'ca_cert = "ca.pem"',
        "",
        "[outbox]",
        'path = "outbox"',
        "",
        "[provisioning]",
        `template = "${TEMPLATE}"`,
        'claim_cert = "claim.pem"',
        'claim_key = "claim.key"',
        'dir = "identity"',
        "",
      ].join("\n"),
    );
    // Not provisioned yet: --check has no identity to show, and says what is missing.
    const env = await firstBoot(file, {}, { lookOnly: true });
    expect(env).toEqual({});

    const booted = await firstBoot(
      file,
      {},
      { cpuinfo: () => `Hardware\t: BCM2835\nSerial\t\t: ${LISTED[4]}\n` },
    );
    expect(booted).toEqual({
      AWS_IOT_CLIENT_ID: `medusa-${LISTED[4]}`,
      AWS_IOT_CERT_PATH: join(dir, "identity", PROVISIONING_FILES.certificate),
      AWS_IOT_KEY_PATH: join(dir, "identity", PROVISIONING_FILES.key),
    });

    const out: Array<string> = [];
    vi.spyOn(console, "log").mockImplementation((line: string) => out.push(line));
    vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await main(["--config", file, "--check", "--connect"], {})).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
    expect(out.join("\n")).toMatch(new RegExp(`as medusa-${LISTED[4]}: connected, CONNACK`));
  });

  it("a configuration without a serial number on a machine without one is a clear configuration error", async () => {
    const dir = dirs();
    const file = join(dir, "mqtt_publisher.toml");
    writeFileSync(
      file,
      `[mqtt]\nbroker_host = "127.0.0.1"\nca_cert = "ca.pem"\n[provisioning]\ntemplate = "t"\nclaim_cert = "c"\nclaim_key = "k"\n`,
    );
    await expect(firstBoot(file, {}, { cpuinfo: () => "processor : 0\n" })).rejects.toMatchObject({
      _tag: "ConfigError",
      key: "provisioning.serial_number",
    });
  });
});
