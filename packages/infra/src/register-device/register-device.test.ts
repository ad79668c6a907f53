import { X509Certificate } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AttachPolicyCommand,
  type AttachPolicyCommandInput,
  AttachThingPrincipalCommand,
  type AttachThingPrincipalCommandInput,
  CreateCertificateFromCsrCommand,
  type CreateCertificateFromCsrCommandInput,
  CreateKeysAndCertificateCommand,
  type CreateKeysAndCertificateCommandInput,
  CreateThingCommand,
  type CreateThingCommandInput,
  DeleteCertificateCommand,
  type DeleteCertificateCommandInput,
  DeleteConflictException,
  DeleteThingCommand,
  type DeleteThingCommandInput,
  DescribeEndpointCommand,
  DescribeThingCommand,
  type DescribeThingCommandInput,
  DetachPolicyCommand,
  type DetachPolicyCommandInput,
  DetachThingPrincipalCommand,
  type DetachThingPrincipalCommandInput,
  GetPolicyCommand,
  type GetPolicyCommandInput,
  GetTopicRuleCommand,
  type GetTopicRuleCommandInput,
  IoTClient,
  ResourceNotFoundException,
  UpdateCertificateCommand,
  type UpdateCertificateCommandInput,
} from "@aws-sdk/client-iot";
import { mockClient } from "aws-sdk-client-mock";
import { Either } from "effect";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
// The agent's own parser: what register-device writes must load on the device.
import { parseConfig } from "../../../device/src/config.js";
import { agentConfigToml } from "./agent-config.js";
import { AMAZON_ROOT_CA_1_PEM, AMAZON_ROOT_CA_1_SHA256 } from "./amazon-root-ca.js";
import { main, parseCommandLine, UsageError } from "./cli.js";
import { RegistrationFailed, registerDevice } from "./register-device.js";

const ENDPOINT = "a1b2c3d4e5f6g7-ats.iot.eu-central-1.amazonaws.com";
const POLICIES = ["medusa-dev-device", "medusa-dev-device-shadow", "medusa-dev-device-jobs"];
const RULE = "medusa_dev_sensor_data";
const THING = "medusa-pi-07";
const arnOf = (id: string) => `arn:aws:iot:eu-central-1:123456789012:cert/${id}`;

/**
 * AWS IoT as far as register-device sees it: things, certificates with their
 * status and attachments, policies. It refuses what IoT refuses (deleting an
 * active or attached certificate), and fails any command named in `failAt`.
 */
class FakeIot {
  readonly things = new Map<string, Set<string>>();
  readonly certificates = new Map<
    string,
    { status: "ACTIVE" | "INACTIVE"; policies: Set<string>; things: Set<string> }
  >();
  readonly policies = new Set(POLICIES);
  /** The policies DetachPolicy was called for, in order. */
  readonly detached: Array<string> = [];
  /** Topic rules by name: whether each is disabled. */
  readonly rules = new Map([[RULE, false]]);
  readonly calls: Array<string> = [];
  /** Command name, or `name#n` for its n-th call only → how it fails (once per listed entry). */
  readonly failAt = new Map<string, "before" | "after">();
  /** Deletes refused as "still attached" this many times first (propagation delay). */
  conflictsOnDelete = 0;
  private next = 1;

  constructor(readonly client: IoTClient) {
    const mock = mockClient(client);
    /** A fake that fails as `failAt` says and, like the SDK, rejects rather than throws. */
    const guard =
      <I, O>(name: string, f: (input: I) => O) =>
      async (input: I): Promise<O> => {
        this.calls.push(name);
        const nth = `${name}#${this.calls.filter((c) => c === name).length}`;
        const key = this.failAt.has(nth) ? nth : name;
        const when = this.failAt.get(key);
        if (when === "before") {
          this.failAt.delete(key);
          throw Object.assign(new Error(`injected failure at ${name}`), {
            name: "ThrottlingException",
          });
        }
        const out = f(input);
        if (when === "after") {
          this.failAt.delete(key);
          throw Object.assign(new Error(`lost answer of ${name}`), { name: "TimeoutError" });
        }
        return out;
      };
    const cert = (id: string | undefined) => {
      const c = this.certificates.get(id ?? "");
      if (!c)
        throw new ResourceNotFoundException({ message: `no certificate ${id}`, $metadata: {} });
      return c;
    };
    const idOf = (arn: string | undefined) => (arn ?? "").split("/").pop() ?? "";
    const notFound = (what: string) =>
      new ResourceNotFoundException({ message: `${what} not found`, $metadata: {} });
    const conflict = (what: string) =>
      new DeleteConflictException({ message: `${what} is still attached`, $metadata: {} });

    mock
      .on(DescribeEndpointCommand)
      .callsFake(guard("DescribeEndpoint", () => ({ endpointAddress: ENDPOINT })));
    mock.on(GetPolicyCommand).callsFake(
      guard("GetPolicy", (i: GetPolicyCommandInput) => {
        if (!this.policies.has(i.policyName ?? "")) throw notFound(`policy ${i.policyName}`);
        return { policyName: i.policyName };
      }),
    );
    mock.on(GetTopicRuleCommand).callsFake(
      guard("GetTopicRule", (i: GetTopicRuleCommandInput) => {
        const disabled = this.rules.get(i.ruleName ?? "");
        // IoT answers a rule that does not exist so, not with ResourceNotFoundException.
        if (disabled === undefined)
          throw Object.assign(new Error("Access to the rule is denied"), {
            name: "UnauthorizedException",
          });
        return {
          ruleArn: `arn:aws:iot:eu-central-1:123456789012:rule/${i.ruleName}`,
          rule: { ruleName: i.ruleName, ruleDisabled: disabled },
        };
      }),
    );
    mock.on(DescribeThingCommand).callsFake(
      guard("DescribeThing", (i: DescribeThingCommandInput) => {
        if (!this.things.has(i.thingName ?? "")) throw notFound(`thing ${i.thingName}`);
        return { thingName: i.thingName };
      }),
    );
    mock.on(CreateThingCommand).callsFake(
      guard("CreateThing", (i: CreateThingCommandInput) => {
        this.things.set(i.thingName ?? "", new Set());
        return { thingName: i.thingName };
      }),
    );
    const newCertificate = (active: boolean | undefined) => {
      const id = `cert${this.next++}`.padEnd(64, "0");
      this.certificates.set(id, {
        status: active ? "ACTIVE" : "INACTIVE",
        policies: new Set(),
        things: new Set(),
      });
      return {
        certificateId: id,
        certificateArn: arnOf(id),
        certificatePem: `-----BEGIN CERTIFICATE-----\n${id}\n-----END CERTIFICATE-----\n`,
      };
    };
    mock.on(CreateKeysAndCertificateCommand).callsFake(
      guard("CreateKeysAndCertificate", (i: CreateKeysAndCertificateCommandInput) => ({
        ...newCertificate(i.setAsActive),
        keyPair: {
          PrivateKey: "-----BEGIN RSA PRIVATE KEY-----\nsecret\n-----END RSA PRIVATE KEY-----\n",
          PublicKey: "pub",
        },
      })),
    );
    mock
      .on(CreateCertificateFromCsrCommand)
      .callsFake(
        guard("CreateCertificateFromCsr", (i: CreateCertificateFromCsrCommandInput) =>
          newCertificate(i.setAsActive),
        ),
      );
    mock.on(AttachPolicyCommand).callsFake(
      guard("AttachPolicy", (i: AttachPolicyCommandInput) => {
        cert(idOf(i.target)).policies.add(i.policyName ?? "");
        return {};
      }),
    );
    mock.on(DetachPolicyCommand).callsFake(
      guard("DetachPolicy", (i: DetachPolicyCommandInput) => {
        this.detached.push(i.policyName ?? "");
        cert(idOf(i.target)).policies.delete(i.policyName ?? "");
        return {};
      }),
    );
    mock.on(AttachThingPrincipalCommand).callsFake(
      guard("AttachThingPrincipal", (i: AttachThingPrincipalCommandInput) => {
        const things = this.things.get(i.thingName ?? "");
        if (!things) throw notFound(`thing ${i.thingName}`);
        cert(idOf(i.principal)).things.add(i.thingName ?? "");
        things.add(idOf(i.principal));
        return {};
      }),
    );
    mock.on(DetachThingPrincipalCommand).callsFake(
      guard("DetachThingPrincipal", (i: DetachThingPrincipalCommandInput) => {
        cert(idOf(i.principal)).things.delete(i.thingName ?? "");
        this.things.get(i.thingName ?? "")?.delete(idOf(i.principal));
        return {};
      }),
    );
    mock.on(UpdateCertificateCommand).callsFake(
      guard("UpdateCertificate", (i: UpdateCertificateCommandInput) => {
        cert(i.certificateId).status = i.newStatus === "ACTIVE" ? "ACTIVE" : "INACTIVE";
        return {};
      }),
    );
    mock.on(DeleteCertificateCommand).callsFake(
      guard("DeleteCertificate", (i: DeleteCertificateCommandInput) => {
        const c = cert(i.certificateId);
        if (c.status === "ACTIVE")
          throw Object.assign(new Error("certificate must be deactivated"), {
            name: "CertificateStateException",
          });
        if (this.conflictsOnDelete > 0) {
          this.conflictsOnDelete--;
          throw conflict("certificate");
        }
        if (c.policies.size > 0 || c.things.size > 0) throw conflict("certificate");
        this.certificates.delete(i.certificateId ?? "");
        return {};
      }),
    );
    mock.on(DeleteThingCommand).callsFake(
      guard("DeleteThing", (i: DeleteThingCommandInput) => {
        if ((this.things.get(i.thingName ?? "")?.size ?? 0) > 0)
          throw Object.assign(new Error("thing has principals"), {
            name: "InvalidRequestException",
          });
        this.things.delete(i.thingName ?? "");
        return {};
      }),
    );
  }

  active(): Array<string> {
    return [...this.certificates].filter(([, c]) => c.status === "ACTIVE").map(([id]) => id);
  }
}

let dir: string;
let out: string;
let iot: FakeIot;
const noSleep = async () => {};
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "medusa-register-"));
  out = join(dir, THING);
  iot = new FakeIot(
    new IoTClient({
      region: "eu-central-1",
      credentials: { accessKeyId: "x", secretAccessKey: "y" },
    }),
  );
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const register = (extra: Partial<Parameters<typeof registerDevice>[1]> = {}) =>
  registerDevice(
    iot.client,
    {
      thingName: THING,
      policyNames: POLICIES,
      basicIngestRule: RULE,
      outDir: out,
      location: "ward 3, bed 12",
      ...extra,
    },
    { sleep: noSleep, now: () => new Date("2026-11-23T10:00:00Z"), log: (l) => logged.push(l) },
  );
let logged: Array<string> = [];
beforeEach(() => {
  logged = [];
});
const loadWritten = () => {
  const config = parseConfig(
    readFileSync(join(out, "mqtt_publisher.toml"), "utf8"),
    "/etc/medusa/mqtt_publisher.toml",
    { fs: { read: () => undefined, write: () => {}, mode: () => undefined } },
  );
  if (Either.isLeft(config)) throw config.left;
  return config.right;
};

const SUCCESS_STEPS = [
  "DescribeEndpoint",
  "GetPolicy",
  "GetPolicy",
  "GetPolicy",
  "GetTopicRule",
  "DescribeThing",
  "CreateThing",
  "CreateKeysAndCertificate",
  "AttachPolicy",
  "AttachPolicy",
  "AttachPolicy",
  "AttachThingPrincipal",
  "UpdateCertificate",
];

describe("registerDevice", () => {
  it("creates the thing and an inactive certificate, attaches every device policy and the thing, writes the files, then activates", async () => {
    const r = await register();
    expect(iot.calls).toEqual(SUCCESS_STEPS);
    expect(r).toMatchObject({ thingName: THING, thingCreated: true, endpoint: ENDPOINT });
    const [id] = iot.active();
    expect(id).toBe(r.certificateId);
    expect(iot.certificates.get(r.certificateId)).toEqual({
      status: "ACTIVE",
      policies: new Set(POLICIES),
      things: new Set([THING]),
    });
    expect(readdirSync(out).sort()).toEqual(
      [
        "AmazonRootCA1.pem",
        `${THING}.cert.pem`,
        `${THING}.private.key`,
        "mqtt_publisher.toml",
      ].sort(),
    );
    expect(statSync(join(out, `${THING}.private.key`)).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(out, "AmazonRootCA1.pem"), "utf8")).toBe(AMAZON_ROOT_CA_1_PEM);
  });

  it("writes an mqtt_publisher.toml the agent loads as is: Basic Ingest to the stack's rule, every 10 s", async () => {
    await register();
    expect(loadWritten()).toMatchObject({
      deviceId: THING,
      deviceIdSource: "client_id",
      mqtt: {
        host: ENDPOINT,
        port: 8883,
        clientId: THING,
        caPath: "/etc/medusa/certs/AmazonRootCA1.pem",
        certPath: `/etc/medusa/certs/${THING}.cert.pem`,
        keyPath: `/etc/medusa/certs/${THING}.private.key`,
      },
      topics: {
        sensorData: `$aws/rules/${RULE}/medusa/${THING}/sensor/data`,
        basicIngestRule: RULE,
        status: `medusa/${THING}/status`,
        commands: `medusa/${THING}/commands/#`,
      },
      sensor: { sampleRateHz: 10, kind: "adxl345" },
      device: { location: "ward 3, bed 12" },
      publishIntervalMs: 10_000,
      warnings: [],
    });
  });

  it("writes the plain topic when told, and then does not look for the rule", async () => {
    iot.rules.clear();
    await register({ basicIngestRule: null, publishIntervalMs: 2_000 });
    expect(iot.calls).not.toContain("GetTopicRule");
    expect(loadWritten()).toMatchObject({
      topics: { sensorData: `medusa/${THING}/sensor/data`, basicIngestRule: null },
      publishIntervalMs: 2_000,
    });
    expect(readFileSync(join(out, "mqtt_publisher.toml"), "utf8")).not.toContain("basic_ingest");
  });

  it("stops before creating anything when the rule is missing; registers, saying so, when it is disabled", async () => {
    await expect(register({ basicIngestRule: "medusa_prod_sensor_data" })).rejects.toThrow(
      /no IoT rule medusa_prod_sensor_data.*deploy the stack first.*--plain-topic/,
    );
    expect(iot.calls).toEqual([
      "DescribeEndpoint",
      "GetPolicy",
      "GetPolicy",
      "GetPolicy",
      "GetTopicRule",
    ]);
    expect(iot.things.size + iot.certificates.size).toBe(0);
    iot.rules.set(RULE, true);
    await register();
    expect(logged).toContain(
      `  rule ${RULE} is disabled: the device's data is dropped until it is enabled again`,
    );
    expect(iot.active()).toHaveLength(1);
  });

  it("with a CSR made on the device: IoT signs it and no private key exists here", async () => {
    const csrPem = "-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE REQUEST-----\n";
    await register({
      csrPem,
      deviceKeyPath: "/var/lib/medusa/device.key",
      topicPrefix: "clinic-a",
    });
    expect(iot.calls).toContain("CreateCertificateFromCsr");
    expect(iot.calls).not.toContain("CreateKeysAndCertificate");
    const sent = iot.calls.indexOf("CreateCertificateFromCsr");
    expect(sent).toBeGreaterThan(0);
    expect(existsSync(join(out, `${THING}.private.key`))).toBe(false);
    const config = loadWritten();
    expect(config.mqtt.keyPath).toBe("/var/lib/medusa/device.key");
    expect(config.topics.sensorData).toBe(`$aws/rules/${RULE}/clinic-a/${THING}/sensor/data`);
  });

  it("gives an existing thing one more certificate and leaves the thing alone on failure", async () => {
    iot.things.set(THING, new Set());
    iot.failAt.set("AttachThingPrincipal", "before");
    await expect(register()).rejects.toThrow(RegistrationFailed);
    expect(iot.things.has(THING)).toBe(true);
    expect(iot.calls).not.toContain("CreateThing");
    expect(iot.certificates.size).toBe(0);
  });

  // The heart of it: wherever it stops, nothing it made is left behind, and no certificate is active.
  const failurePoints = [
    ...[...new Set(SUCCESS_STEPS)].map((s) => [s, "before"] as const),
    ["UpdateCertificate", "after"] as const,
    ["CreateThing", "after"] as const,
    ["AttachPolicy", "after"] as const,
    // The second and third policy: the ones attached before are detached too.
    ["GetPolicy#3", "before"] as const,
    ["AttachPolicy#2", "before"] as const,
    ["AttachPolicy#3", "before"] as const,
    ["AttachPolicy#3", "after"] as const,
    ["AttachThingPrincipal", "after"] as const,
  ];
  it.each(failurePoints)(
    "failing at %s (%s it acts) leaves no certificate, thing or file",
    async (step, when) => {
      iot.failAt.set(step, when);
      const error = await register().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RegistrationFailed);
      expect((error as RegistrationFailed).step).toContain(step.split("#")[0]);
      expect((error as RegistrationFailed).leftover).toEqual([]);
      expect(iot.active()).toEqual([]);
      expect(iot.certificates.size).toBe(0);
      expect(iot.things.size).toBe(0);
      expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    },
  );

  it("failing to write the files undoes the registration", async () => {
    writeFileSync(out, "a file where the directory should be");
    const error = await register().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistrationFailed);
    expect((error as RegistrationFailed).step).toBe("write files");
    expect(iot.certificates.size).toBe(0);
    expect(iot.things.size).toBe(0);
  });

  it("waits out IoT's detach propagation before deleting the certificate", async () => {
    iot.failAt.set("UpdateCertificate", "before");
    iot.conflictsOnDelete = 2;
    await expect(register()).rejects.toThrow(/everything it had created was removed/);
    expect(iot.calls.filter((c) => c === "DeleteCertificate")).toHaveLength(3);
    expect(iot.certificates.size).toBe(0);
  });

  it("names what it could not clean up; the certificate it leaves is inactive", async () => {
    iot.failAt.set("UpdateCertificate", "before");
    iot.failAt.set("DetachThingPrincipal", "before");
    const error = (await register().catch((e: unknown) => e)) as RegistrationFailed;
    expect(error).toBeInstanceOf(RegistrationFailed);
    expect(error.leftover.join("\n")).toMatch(/detach-thing-principal --thing-name medusa-pi-07/);
    expect(error.leftover.join("\n")).toMatch(/delete-certificate --certificate-id/);
    expect(error.message).toMatch(/clean up by hand/);
    expect(iot.active()).toEqual([]);
    expect([...iot.certificates.values()].map((c) => c.status)).toEqual(["INACTIVE"]);
  });

  it("detaches every policy it attached when a later step fails", async () => {
    iot.failAt.set("AttachThingPrincipal", "before");
    await expect(register()).rejects.toThrow(RegistrationFailed);
    expect([...iot.detached].sort()).toEqual([...POLICIES].sort());
    expect(iot.certificates.size).toBe(0);
  });

  it("a failure at the third policy detaches the first two and the third (its answer may be lost)", async () => {
    iot.failAt.set("AttachPolicy#3", "after");
    const error = (await register().catch((e: unknown) => e)) as RegistrationFailed;
    expect(error.step).toBe(`AttachPolicy ${POLICIES[2]}`);
    // Newest first.
    expect(iot.detached).toEqual([...POLICIES].reverse());
    expect(error.leftover).toEqual([]);
  });

  it("stops before creating anything when a policy is missing or the thing name is bad", async () => {
    await expect(register({ policyNames: ["medusa-prod-device"] })).rejects.toThrow(
      /no IoT policy medusa-prod-device.*deploy the stack first/,
    );
    expect(iot.calls).toEqual(["DescribeEndpoint", "GetPolicy"]);
    // The stack of an older version, with the device policy only: the shadow's and jobs' are missing.
    iot.policies.delete("medusa-dev-device-shadow");
    await expect(register()).rejects.toThrow(/no IoT policy medusa-dev-device-shadow/);
    expect(iot.calls).toEqual([
      "DescribeEndpoint",
      "GetPolicy",
      "DescribeEndpoint",
      "GetPolicy",
      "GetPolicy",
    ]);
    expect(iot.things.size + iot.certificates.size).toBe(0);
    await expect(register({ thingName: "medusa/pi" })).rejects.toThrow(/thing name/);
    await expect(register({ policyNames: [] })).rejects.toThrow(/at least one/);
    await expect(
      register({ policyNames: [POLICIES[0] as string, POLICIES[0] as string] }),
    ).rejects.toThrow(/named twice/);
    expect(iot.calls).toHaveLength(5);
  });

  it("never overwrites a key already written unless told to", async () => {
    await register();
    const before = readFileSync(join(out, `${THING}.private.key`), "utf8");
    await expect(register()).rejects.toThrow(/already holds.*--overwrite/);
    expect(readFileSync(join(out, `${THING}.private.key`), "utf8")).toBe(before);
    expect(iot.active()).toHaveLength(1);
    // An old key file someone left readable: the new key is private all the same.
    chmodSync(join(out, `${THING}.private.key`), 0o644);
    await register({ overwrite: true });
    expect(iot.active()).toHaveLength(2);
    expect(statSync(join(out, `${THING}.private.key`)).mode & 0o777).toBe(0o600);
  });
});

describe("the command line", () => {
  it("reads the options, defaulting the policy from the stage", () => {
    const parsed = parseCommandLine([
      "--thing",
      THING,
      "--stage",
      "prod",
      "--region",
      "eu-central-1",
    ]);
    expect(parsed).toMatchObject({
      help: false,
      region: "eu-central-1",
      options: {
        thingName: THING,
        policyNames: ["medusa-prod-device", "medusa-prod-device-shadow", "medusa-prod-device-jobs"],
        topicPrefix: "medusa",
        sampleRateHz: 10,
        // New configurations: Basic Ingest to the stage's rule, one message every 10 s.
        basicIngestRule: "medusa_prod_sensor_data",
        publishIntervalMs: 10_000,
      },
    });
    expect(parseCommandLine(["-h"])).toEqual({ help: true });
    const options = (argv: Array<string>) => {
      const parsed = parseCommandLine(["--thing", THING, ...argv]);
      if (parsed.help) throw new Error("help");
      return parsed.options;
    };
    expect(options([]).basicIngestRule).toBe(RULE);
    expect(options(["--plain-topic"]).basicIngestRule).toBeNull();
    expect(options(["--policy", "a", "--policy", "b"]).policyNames).toEqual(["a", "b"]);
    expect(options(["--basic-ingest-rule", "clinic_rule"]).basicIngestRule).toBe("clinic_rule");
    expect(options(["--publish-interval-ms", "1000"]).publishIntervalMs).toBe(1_000);
  });

  it("refuses bad input with a usage error", () => {
    expect(() => parseCommandLine([])).toThrow(UsageError);
    expect(() => parseCommandLine(["--thing", "x", "--stage", "qa"])).toThrow(/--stage qa/);
    expect(() => parseCommandLine(["--thing", "x", "--bogus"])).toThrow(UsageError);
    expect(() => parseCommandLine(["--thing", "provision-0001"])).toThrow(
      /--thing provision-0001: names starting provision- are the client ids of devices still on a claim certificate/,
    );
    expect(() =>
      parseCommandLine(["--thing", "x", "--basic-ingest-rule", "medusa-ingest"]),
    ).toThrow(/--basic-ingest-rule medusa-ingest: an AWS IoT rule name/);
    expect(() =>
      parseCommandLine(["--thing", "x", "--basic-ingest-rule", "r", "--plain-topic"]),
    ).toThrow(/choose one/);
    for (const bad of ["50", "1000.5", "600001", "soon"])
      expect(() => parseCommandLine(["--thing", "x", "--publish-interval-ms", bad])).toThrow(
        /--publish-interval-ms/,
      );
    expect(() => parseCommandLine(["--thing", "x", "--csr", "f"], () => "not a csr")).toThrow(
      /not a PEM certificate signing request/,
    );
  });

  it("registers, prints the next steps, and exits 0; an AWS failure exits 1", async () => {
    let printed = "";
    const io = {
      out: (s: string) => {
        printed += s;
      },
      err: (s: string) => {
        printed += s;
      },
      client: () => iot.client,
    };
    expect(await main(["--thing", THING, "--out", out], io)).toBe(0);
    expect(printed).toMatch(new RegExp(`registered ${THING}`));
    expect(printed).toMatch(/sudo chmod 600 \/etc\/medusa\/certs\/medusa-pi-07.private.key/);
    expect(printed).toContain(`sensor data  Basic Ingest to rule ${RULE}, every 10 s`);
    expect(
      await main(["--thing", "pi-2", "--out", join(dir, "pi-2"), "--policy", "nope"], io),
    ).toBe(1);
    expect(printed).toMatch(/no IoT policy nope/);
    expect(await main(["--nope"], io)).toBe(2);
  });
});

it("ships Amazon Root CA 1, checked by its published fingerprint", () => {
  const ca = new X509Certificate(AMAZON_ROOT_CA_1_PEM);
  expect(ca.fingerprint256).toBe(AMAZON_ROOT_CA_1_SHA256);
  expect(ca.subject).toContain("CN=Amazon Root CA 1");
  expect(new Date(ca.validTo).getUTCFullYear()).toBe(2038);
});

it("the deploy guide shows the [publish] table register-device writes", () => {
  const guide = readFileSync(new URL("../../../../docs/deploy.md", import.meta.url), "utf8");
  const written = agentConfigToml({
    endpoint: ENDPOINT,
    thingName: "medusa-pi-01",
    topicPrefix: "medusa",
    caPath: "/etc/medusa/certs/AmazonRootCA1.pem",
    certPath: "/etc/medusa/certs/medusa-pi-01.cert.pem",
    keyPath: "/etc/medusa/certs/medusa-pi-01.private.key",
    sampleRateHz: 10,
    publishIntervalMs: 10_000,
    basicIngestRule: RULE,
    location: "ward 3, bed 12",
    certificateId: "c",
    generatedAt: "t",
  });
  const publish = written.slice(written.indexOf("[publish]"));
  expect(publish).toContain('basic_ingest_rule = "medusa_dev_sensor_data"');
  expect(guide).toContain(publish.trim());
});
