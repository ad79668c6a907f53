// Over 350 lines on purpose: each step of registering a device and its undo sit side by side, so a failure at any step is rolled back by the code beside it.
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CertificateStatus,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeEndpointCommand,
  DescribeThingCommand,
  DetachPolicyCommand,
  DetachThingPrincipalCommand,
  GetPolicyCommand,
  GetTopicRuleCommand,
  type IoTClient,
  ResourceNotFoundException,
  UpdateCertificateCommand,
} from "@aws-sdk/client-iot";
import { DEFAULT_TOPIC_PREFIX, DeviceId } from "@medusa/domain";
import { Schema } from "effect";
import { agentConfigToml } from "./agent-config.js";
import { AMAZON_ROOT_CA_1_PEM } from "./amazon-root-ca.js";

export interface RegisterDeviceOptions {
  /** The device id: thing name, MQTT client id and topic segment. */
  readonly thingName: string;
  /**
   * The stack's device policies (`devicePolicyNames(stage)`: `medusa-<stage>-device`,
   * `-device-shadow`, `-device-jobs`), every one attached to the certificate.
   */
  readonly policyNames: ReadonlyArray<string>;
  /** Where the files are written on this machine. */
  readonly outDir: string;
  /**
   * A certificate signing request made on the device (PEM). When given, IoT
   * signs it and no private key is created or written: it never leaves the
   * device. Without it, IoT creates the key pair and the key is written here.
   */
  readonly csrPem?: string;
  readonly topicPrefix?: string;
  /** Where the agent finds the files on the device. */
  readonly deviceDir?: string;
  /** The key's path on the device (with a CSR: where the device keeps it). */
  readonly deviceKeyPath?: string;
  readonly sampleRateHz?: number;
  /** `publish.interval_ms` of the written configuration (10,000 by default). */
  readonly publishIntervalMs?: number;
  /**
   * The stack's sensor rule (`sensorRuleName(stage)`): the written
   * configuration sends sensor data to it with Basic Ingest, and the rule is
   * checked to exist first. Null: the plain topic, through the message broker.
   */
  readonly basicIngestRule: string | null;
  readonly location?: string;
  /** Overwrite files already in `outDir`. */
  readonly overwrite?: boolean;
}

export interface Registration {
  readonly thingName: string;
  /** False when the thing existed already (it got one more certificate). */
  readonly thingCreated: boolean;
  readonly certificateId: string;
  readonly certificateArn: string;
  readonly endpoint: string;
  /** Files written, local paths. */
  readonly files: ReadonlyArray<string>;
}

export interface RegisterDeviceDeps {
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log?: (line: string) => void;
}

/** Registration stopped at `step`; what was created has been undone (or `leftover` says what was not). */
export class RegistrationFailed extends Error {
  override readonly name = "RegistrationFailed";
  constructor(
    readonly step: string,
    override readonly cause: unknown,
    /** Cleanup steps that failed: by hand, with the commands they name. */
    readonly leftover: ReadonlyArray<string>,
  ) {
    super(
      `register-device failed at ${step}: ${cause instanceof Error ? cause.message : String(cause)}${
        leftover.length === 0
          ? "; everything it had created was removed"
          : `; clean up by hand:\n  ${leftover.join("\n  ")}`
      }`,
    );
  }
}

export const DEFAULT_DEVICE_DIR = "/etc/medusa/certs";
/** New configurations publish every 10 s: the cost dial (docs/deploy.md, section 9). */
export const DEFAULT_PUBLISH_INTERVAL_MS = 10_000;
export const CA_FILE = "AmazonRootCA1.pem";
export const CONFIG_FILE = "mqtt_publisher.toml";

/** The files register-device writes for a thing (names, in `outDir` and on the device alike). */
export const deviceFiles = (thingName: string) => ({
  certificate: `${thingName}.cert.pem`,
  privateKey: `${thingName}.private.key`,
  ca: CA_FILE,
  config: CONFIG_FILE,
});

const isDeviceId = Schema.is(DeviceId);

const errorName = (e: unknown) => (e instanceof Error ? e.name : "");

const isNotFound = (e: unknown) =>
  e instanceof ResourceNotFoundException || errorName(e) === "ResourceNotFoundException";

/** An undo whose target is already gone has nothing left to do. */
const unlessGone = async (p: Promise<unknown>): Promise<void> => {
  await p.catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
};

/**
 * Detaching a thing or a policy propagates asynchronously: for a few seconds a
 * delete may still see it attached. Retries those refusals with backoff.
 */
const retryWhileAttached = async (
  sleep: (ms: number) => Promise<void>,
  f: () => Promise<unknown>,
): Promise<void> => {
  for (let i = 0; ; i++) {
    try {
      await f();
      return;
    } catch (e) {
      const attached = ["DeleteConflictException", "InvalidRequestException"].includes(
        errorName(e),
      );
      if (!attached || i >= 5) throw e;
      await sleep(1_000 * 2 ** i);
    }
  }
};

/**
 * Registers one device with AWS IoT Core: thing, certificate (created
 * inactive), every policy and the thing attached, files written, and only then the
 * certificate activated. A failure at any step undoes what was done, newest
 * first, so no certificate is ever left active without its files — and a
 * certificate that cannot be removed is at worst left inactive.
 */
export const registerDevice = async (
  iot: IoTClient,
  options: RegisterDeviceOptions,
  deps: RegisterDeviceDeps = {},
): Promise<Registration> => {
  const { thingName, policyNames, outDir } = options;
  const now = deps.now ?? (() => new Date());
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = deps.log ?? (() => {});
  if (policyNames.length === 0) throw new Error("name at least one IoT policy to attach");
  if (new Set(policyNames).size !== policyNames.length)
    throw new Error(`IoT policies named twice: ${policyNames.join(", ")}`);
  if (!isDeviceId(thingName))
    throw new Error(
      `thing name "${thingName}": 1-128 characters of [a-zA-Z0-9:_-] (it is also the MQTT client id and a topic level)`,
    );
  const names = deviceFiles(thingName);
  const deviceDir = options.deviceDir ?? DEFAULT_DEVICE_DIR;
  const local = (file: string) => join(outDir, file);
  const planned = options.csrPem
    ? [names.certificate, names.ca, names.config]
    : [names.certificate, names.privateKey, names.ca, names.config];
  const existing = planned.filter((f) => existsSync(local(f)));
  if (existing.length > 0 && !options.overwrite)
    throw new Error(
      `${outDir} already holds ${existing.join(", ")}; choose another --out or pass --overwrite`,
    );

  // Undo actions, newest last; run newest first on failure.
  const undo: Array<{ readonly what: string; readonly run: () => Promise<void> }> = [];
  let step = "";
  const attempt = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    step = name;
    log(`· ${name}`);
    return f();
  };

  try {
    // Read-only look-ups first: a wrong region or an undeployed stack costs nothing.
    const endpoint = await attempt("DescribeEndpoint", async () => {
      const out = await iot.send(new DescribeEndpointCommand({ endpointType: "iot:Data-ATS" }));
      if (!out.endpointAddress) throw new Error("IoT returned no data endpoint");
      return out.endpointAddress;
    });
    // Every policy, before anything is made: a device missing one would connect without
    // its shadow or jobs.
    for (const policyName of policyNames)
      await attempt(`GetPolicy ${policyName}`, () =>
        iot.send(new GetPolicyCommand({ policyName })).catch((e: unknown) => {
          if (isNotFound(e))
            throw new Error(
              `no IoT policy ${policyName} in this account and region: deploy the stack first, or name the stage's policies`,
            );
          throw e;
        }),
      );

    const rule = options.basicIngestRule;
    if (rule !== null) {
      // A Basic Ingest message for a rule that does not exist is dropped (AWS logs an error and
      // counts RuleNotFound): a device configured so would lose everything it sends.
      const noRule = () =>
        new Error(
          `no IoT rule ${rule} in this account and region: deploy the stack first, name the stage's rule with --basic-ingest-rule, or publish on the plain topic with --plain-topic`,
        );
      const found = await attempt("GetTopicRule", () =>
        iot.send(new GetTopicRuleCommand({ ruleName: rule })).catch((e: unknown) => {
          // GetTopicRule answers a rule that does not exist with UnauthorizedException.
          if (isNotFound(e) || errorName(e) === "UnauthorizedException") throw noRule();
          throw e;
        }),
      );
      if (!found.rule) throw noRule();
      if (found.rule.ruleDisabled)
        log(`  rule ${rule} is disabled: the device's data is dropped until it is enabled again`);
    }

    const thingExists = await attempt("DescribeThing", () =>
      iot.send(new DescribeThingCommand({ thingName })).then(
        () => true,
        (e: unknown) => {
          if (isNotFound(e)) return false;
          throw e;
        },
      ),
    );
    if (!thingExists) {
      // Undo is registered before each step that names what it makes: an answer
      // lost after IoT acted is undone like a step that finished.
      undo.push({
        what: `aws iot delete-thing --thing-name ${thingName}`,
        run: () =>
          retryWhileAttached(sleep, () =>
            unlessGone(iot.send(new DeleteThingCommand({ thingName }))),
          ),
      });
      await attempt("CreateThing", () => iot.send(new CreateThingCommand({ thingName })));
    } else {
      log(`  thing ${thingName} exists: it gets one more certificate`);
    }

    // Inactive until the files are written: a half-registered device can never connect.
    const created = await attempt(
      options.csrPem ? "CreateCertificateFromCsr" : "CreateKeysAndCertificate",
      async () => {
        const { csrPem } = options;
        const out: {
          certificateId?: string | undefined;
          certificateArn?: string | undefined;
          certificatePem?: string | undefined;
          keyPair?: { PrivateKey?: string | undefined } | undefined;
        } = csrPem
          ? await iot.send(
              new CreateCertificateFromCsrCommand({
                certificateSigningRequest: csrPem,
                setAsActive: false,
              }),
            )
          : await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
        const { certificateId, certificateArn, certificatePem } = out;
        const privateKey = out.keyPair?.PrivateKey;
        if (!certificateId || !certificateArn || !certificatePem)
          throw new Error("IoT returned no certificate");
        if (!options.csrPem && !privateKey) throw new Error("IoT returned no private key");
        return { certificateId, certificateArn, certificatePem, privateKey };
      },
    );
    const { certificateId, certificateArn } = created;
    undo.push({
      what: `aws iot update-certificate --certificate-id ${certificateId} --new-status INACTIVE && aws iot delete-certificate --certificate-id ${certificateId}`,
      run: () =>
        retryWhileAttached(sleep, () => iot.send(new DeleteCertificateCommand({ certificateId }))),
    });

    // Each attachment has its own undo, registered before it: a failure at the second
    // detaches the first (and the second, whose answer may have been lost).
    for (const policyName of policyNames) {
      undo.push({
        what: `aws iot detach-policy --policy-name ${policyName} --target ${certificateArn}`,
        run: () =>
          unlessGone(iot.send(new DetachPolicyCommand({ policyName, target: certificateArn }))),
      });
      await attempt(`AttachPolicy ${policyName}`, () =>
        iot.send(new AttachPolicyCommand({ policyName, target: certificateArn })),
      );
    }

    undo.push({
      what: `aws iot detach-thing-principal --thing-name ${thingName} --principal ${certificateArn}`,
      run: () =>
        unlessGone(
          iot.send(new DetachThingPrincipalCommand({ thingName, principal: certificateArn })),
        ),
    });
    await attempt("AttachThingPrincipal", () =>
      iot.send(new AttachThingPrincipalCommand({ thingName, principal: certificateArn })),
    );

    const written: Array<string> = [];
    undo.push({
      what: `rm ${planned.map(local).join(" ")}`,
      run: async () => {
        for (const f of written) rmSync(f, { force: true });
      },
    });
    await attempt("write files", async () => {
      mkdirSync(outDir, { recursive: true });
      const write = (file: string, content: string, mode: number) => {
        writeFileSync(local(file), content, { mode });
        // `mode` applies only to a new file: an overwritten key keeps the old file's mode.
        chmodSync(local(file), mode);
        written.push(local(file));
      };
      write(names.certificate, created.certificatePem, 0o644);
      if (created.privateKey) write(names.privateKey, created.privateKey, 0o600);
      write(names.ca, AMAZON_ROOT_CA_1_PEM, 0o644);
      write(
        names.config,
        agentConfigToml({
          endpoint,
          thingName,
          topicPrefix: options.topicPrefix ?? DEFAULT_TOPIC_PREFIX,
          caPath: `${deviceDir}/${names.ca}`,
          certPath: `${deviceDir}/${names.certificate}`,
          keyPath: options.deviceKeyPath ?? `${deviceDir}/${names.privateKey}`,
          sampleRateHz: options.sampleRateHz ?? 10,
          publishIntervalMs: options.publishIntervalMs ?? DEFAULT_PUBLISH_INTERVAL_MS,
          basicIngestRule: rule,
          location: options.location ?? "",
          certificateId,
          generatedAt: now().toISOString(),
        }),
        0o644,
      );
    });

    // If the answer is lost, the certificate may be active: undo deactivates before deleting.
    undo.push({
      what: `aws iot update-certificate --certificate-id ${certificateId} --new-status INACTIVE`,
      run: async () => {
        await iot.send(
          new UpdateCertificateCommand({ certificateId, newStatus: CertificateStatus.INACTIVE }),
        );
      },
    });
    await attempt("UpdateCertificate ACTIVE", () =>
      iot.send(
        new UpdateCertificateCommand({ certificateId, newStatus: CertificateStatus.ACTIVE }),
      ),
    );

    return {
      thingName,
      thingCreated: !thingExists,
      certificateId,
      certificateArn,
      endpoint,
      files: [...written],
    };
  } catch (cause) {
    const failedAt = step;
    const leftover: Array<string> = [];
    for (const u of undo.reverse()) {
      try {
        await u.run();
      } catch (e) {
        leftover.push(`${u.what}   (${e instanceof Error ? e.message : String(e)})`);
      }
    }
    throw new RegistrationFailed(failedAt, cause, leftover);
  }
};
