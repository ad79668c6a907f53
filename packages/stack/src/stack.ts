import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { serve } from "@hono/node-server";
import {
  connectIotDataShadows,
  connectIotDeviceJobs,
  DEFAULT_CACHE_TTL_MS,
  type DynamoStores,
  dynamoAllowListLayer,
  ensureTables,
  localCredentials,
  makeDynamoClient,
  makeDynamoStores,
  storesLayer,
  tableNames,
} from "@medusa/adapters";
import {
  type CertificateRegistry,
  createCertificateRegistry,
  ensureDevCerts,
  type FleetProvisioning,
  fileJobsPersistence,
  fileShadowPersistence,
  type LocalBroker,
  startJobsControlPlane,
  startLocalBroker,
  startShadowDataPlane,
} from "@medusa/adapters/broker";
import { type BucketServer, startBucketServer } from "@medusa/adapters/s3";
import {
  type DynamoLocal,
  JIT_FOR_SHORT_RUNS,
  portTaken,
  startDynamoLocal,
} from "@medusa/adapters/testing";
import { clinicTimeZone, createApp, cursorKeyFrom, jwtAuth, withConsole } from "@medusa/api";
import { signToken } from "@medusa/api/testing";
import { type RunningDevice, startDevice } from "@medusa/device";
import {
  DAY_MS,
  DEFAULT_EPOCH_MS,
  keepingActivity,
  refreshActivity,
  type SampleChange,
  type TemplateName,
} from "@medusa/domain";
import { servicesLayer } from "@medusa/lambda";
import { Layer, ManagedRuntime } from "effect";
import { AGENT_BUNDLE_BUCKET, bucketsDir, LOCAL_S3_REGION, presignCredentials } from "./bundles.js";
import { ensurePrivateDir, tightenTree } from "./data-dir.js";
import { deviceConfig, simulatedDeviceIds } from "./fleet.js";
import { type FleetStatus, type FleetStatusOptions, startFleetStatus } from "./fleet-status.js";
import { type IngestRule, type StoredMessage, startIngestRule } from "./ingest-rule.js";
import type { StackLog } from "./log.js";
import {
  claimsDir,
  LOCAL_ROTATION_TEMPLATE_NAME,
  LOCAL_TEMPLATE_NAME,
  registryPrincipals,
  startStackCertificateRetirement,
  startStackProvisioning,
} from "./provisioning.js";

/** How often the local stack's activity pass runs. */
export const ACTIVITY_PASS_MS = 60_000;

export interface StackOptions {
  /**
   * Where data, certificates and device state live; `.medusa` in the working directory by
   * default. Owner-only: created 0700, tightened at start when it is not.
   */
  readonly dir?: string;
  /** Simulated devices (real device agents with the synthetic sensor). */
  readonly devices?: number;
  readonly sampleRateHz?: number;
  readonly publishIntervalMs?: number;
  /**
   * The simulated devices send sensor data with Basic Ingest, to the ingest's
   * rule (`INGEST_RULE_NAME`), as devices `register-device` sets up do; off:
   * the plain topic. The ingest takes both either way.
   */
  readonly basicIngest?: boolean;
  readonly apiPort?: number;
  readonly mqttPort?: number;
  readonly dynamoPort?: number;
  /** The agent-bundle bucket's presigned GETs over TLS (any free port unless given). */
  readonly bundlePort?: number;
  /**
   * How long the presigned bundle URL of an agent.update job is valid (60-3600 s;
   * 3600, CreateJob's default, unless given).
   */
  readonly presignExpiresInSec?: number;
  /** A plain (no TLS) MQTT listener on 127.0.0.1 for local tools, with service rights. Off unless given. */
  readonly plainMqttPort?: number;
  readonly topicPrefix?: string;
  /** Delay of re-attribution's second pass (the in-process cache is invalidated at once). */
  readonly settleMs?: number;
  /** How long an assigned device may send no sample before a data-gap alert (10 minutes). */
  readonly gapMs?: number;
  /** How often the gap detector runs (a tenth of the gap time, between 1 s and 30 s, unless given). */
  readonly gapCheckMs?: number;
  /** How often the activity pass computes the blocks of newly ingested samples (60 s unless given). */
  readonly activityPassMs?: number;
  readonly log?: StackLog;
  /** One line per step while starting ("DynamoDB Local ready on …"). */
  readonly progress?: (line: string) => void;
  readonly onStored?: (message: StoredMessage) => void;
  /** Called with each lifecycle event's outcome once it is recorded in the device statuses (lag measurements). */
  readonly onPresence?: FleetStatusOptions["onPresence"];
  /**
   * Aborted while starting (a Ctrl-C): what has started stops, DynamoDB Local
   * included, and the start fails with `StartAborted` once the step under way is done.
   */
  readonly signal?: AbortSignal;
  /**
   * The built console served at `/` with its development sign-in: the local build,
   * `packages/console/dist-local`, by default; `false` for none.
   */
  readonly consoleDir?: string | false;
  /** The clinic's time zone the console shows times in; this machine's by default. */
  readonly timeZone?: string;
}

export interface Stack {
  readonly dir: string;
  readonly apiUrl: string;
  /** Where the console is (`apiUrl` + `/`), when it was built. */
  readonly consoleUrl: string | undefined;
  readonly mqttPort: number;
  readonly plainMqttPort: number | undefined;
  readonly dynamoEndpoint: string;
  /**
   * The agent-bundle bucket (`AGENT_BUNDLE_BUCKET`, files under `{dir}/buckets/`),
   * served to the presigned URLs the Jobs service puts in agent.update documents.
   */
  readonly bundles: BucketServer;
  readonly topicPrefix: string;
  /** The ingest's rule: devices may send sensor data to `$aws/rules/{it}/{prefix}/{id}/sensor/data`. */
  readonly basicIngestRule: string;
  /** A clinician token signed with the development secret. */
  readonly token: string;
  readonly secret: string;
  readonly deviceIds: ReadonlyArray<string>;
  readonly devices: ReadonlyArray<RunningDevice>;
  readonly broker: LocalBroker;
  readonly stores: DynamoStores;
  readonly ingest: IngestRule;
  /** Presence into the device statuses, and the gap detector. */
  readonly fleet: FleetStatus;
  /**
   * AWS IoT's registry as far as fleet provisioning needs it (claim
   * certificates, provisioned things and their certificates), kept in
   * `{dir}/iot-registry.json`.
   */
  readonly registry: CertificateRegistry;
  /** Fleet provisioning by claim on the broker, with the allow-list hook. */
  readonly provisioning: FleetProvisioning;
  /** The provisioning template devices by claim name (`medusa-local-fleet`). */
  readonly provisioningTemplate: TemplateName;
  /** Where the ingest parks what it could not store (`ingest.stats().parked` counts them). */
  readonly failuresFile: string;
  /** Certificate files for a device id (simulated devices and `medusa-cloud` have them). */
  readonly certificates: (id: string) => { ca: string; cert: string; key: string };
  stop(): Promise<void>;
}

/** The identity local tools may use over TLS with the rights of cloud services. */
export const CLOUD_IDENTITY = "medusa-cloud";

/**
 * The local stack's sensor rule, named as the CDK app names a stage's
 * (`medusa_<stage>_sensor_data`; AWS rule names allow no `-`): the ingest
 * takes Basic Ingest messages for it, and the broker's policy grants it.
 */
export const INGEST_RULE_NAME = "medusa_local_sensor_data";

export class PortInUse extends Error {
  override readonly name = "PortInUse";
}

export class StartAborted extends Error {
  override readonly name = "StartAborted";
}

/** The console's local build (`pnpm --filter @medusa/console build`), beside this package. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(
  new URL("../../console/dist-local", import.meta.url),
);

const ensureFree = async (port: number, option: string, what: string) => {
  if (port !== 0 && (await portTaken(port)))
    throw new PortInUse(
      `port ${port} on 127.0.0.1 (${what}) is already in use; choose another with ${option}`,
    );
};

/** The development signing secret: created once, kept with the data so tokens survive restarts. */
const devSecret = (dir: string): string => {
  const file = join(dir, "dev-jwt-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const secret = randomBytes(32).toString("base64url");
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
};

/**
 * Starts everything on this machine, in order: DynamoDB Local (data kept in
 * `dir`), the tables, development certificates, the TLS broker with the IoT
 * policy's rights, the ingest rule and re-attribution, the API, and the
 * simulated devices. Stops in the reverse order; so does a start that fails
 * or is aborted (`options.signal`) half way.
 */
export const startStack = async (options: StackOptions = {}): Promise<Stack> => {
  const dir = resolve(options.dir ?? ".medusa");
  const log = options.log ?? (() => {});
  const progress = options.progress ?? (() => {});
  const prefix = options.topicPrefix ?? "medusa";
  const count = options.devices ?? 3;
  const apiPort = options.apiPort ?? 8080;
  const mqttPort = options.mqttPort ?? 8883;
  const dynamoPort = options.dynamoPort ?? 8000;
  ensurePrivateDir(dir, (entry) => log({ component: "stack", ...entry }));
  // Between steps: a step under way (DynamoDB Local's JVM coming up) is let finish, so
  // that what it started is known and can be stopped.
  const proceed = () => {
    if (options.signal?.aborted) throw new StartAborted("stopped while starting");
  };

  await ensureFree(dynamoPort, "--dynamo-port", "DynamoDB Local");
  await ensureFree(mqttPort, "--mqtt-port", "MQTT over TLS");
  await ensureFree(apiPort, "--api-port", "the API");
  if (options.bundlePort !== undefined)
    await ensureFree(options.bundlePort, "--bundle-port", "the agent-bundle bucket");
  if (options.plainMqttPort !== undefined)
    await ensureFree(options.plainMqttPort, "--plain-mqtt-port", "plain MQTT");

  const cleanup: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const step of cleanup.splice(0).reverse()) await step().catch(() => {});
  };
  try {
    proceed();
    let t = Date.now();
    progress("starting DynamoDB Local (Java) …");
    const dynamo: DynamoLocal = await startDynamoLocal({
      ...(dynamoPort !== 0 ? { port: dynamoPort } : {}),
      dataDir: join(dir, "dynamodb"),
      // A fleet reconnecting to a stack just started is its busiest moment: a quick JIT.
      javaOptions: JIT_FOR_SHORT_RUNS,
    });
    cleanup.push(() => dynamo.stop());
    proceed();
    const client = makeDynamoClient({
      endpoint: dynamo.endpoint,
      region: "local",
      credentials: localCredentials,
    });
    cleanup.push(async () => client.destroy());
    const tables = tableNames();
    await ensureTables(client, tables);
    // The JVM made its files with the process's umask: they hold patients' names.
    tightenTree(join(dir, "dynamodb"));
    proceed();
    const dynamoStores = makeDynamoStores({ client, tables });
    // Activity: re-attribution refreshes the blocks it touches at once; the
    // ingest's writes are refreshed by a pass every ACTIVITY_PASS_MS, so a block
    // is computed about once a minute, not once a message.
    const activityOptions = { epochMs: DEFAULT_EPOCH_MS, retentionMs: 30 * DAY_MS };
    const pendingActivity: Array<SampleChange> = [];
    const stores = {
      ...dynamoStores,
      sensors: keepingActivity(dynamoStores.sensors, dynamoStores.activity, {
        ...activityOptions,
        deferWrites: (changes) => pendingActivity.push(...changes),
      }),
    };
    // The one layer the ingest, re-attribution and the API run on, built once: the
    // ingest's interval cache is the one a commit clears.
    const runtime = ManagedRuntime.make(
      servicesLayer(storesLayer(stores), { cacheTtlMs: DEFAULT_CACHE_TTL_MS }),
    );
    cleanup.push(() => runtime.dispose());
    let passing = false;
    const activityPass = setInterval(() => {
      if (passing || pendingActivity.length === 0) return;
      passing = true;
      const changes = pendingActivity.splice(0);
      runtime
        .runPromise(refreshActivity(changes, activityOptions))
        .then((report) =>
          log({ component: "activity", level: "debug", msg: "refreshed", ...report }),
        )
        .catch((e: unknown) => {
          // Kept for the next pass: a refresh is idempotent.
          pendingActivity.push(...changes);
          log({ component: "activity", level: "warn", msg: "refresh failed", reason: String(e) });
        })
        .finally(() => {
          passing = false;
        });
    }, options.activityPassMs ?? ACTIVITY_PASS_MS);
    activityPass.unref();
    cleanup.push(async () => clearInterval(activityPass));
    const services = Layer.succeedContext((await runtime.runtime()).context);
    progress(`DynamoDB Local ready on ${dynamo.endpoint}, tables in place (${Date.now() - t} ms)`);

    t = Date.now();
    const deviceIds = simulatedDeviceIds(count);
    const certs = await ensureDevCerts(join(dir, "certs"), [...deviceIds, CLOUD_IDENTITY]);
    progress(`development certificates in ${join(dir, "certs")} (${Date.now() - t} ms)`);
    proceed();

    // The agent-bundle bucket, read as S3 is through presigned URLs, over TLS with the
    // development CA that agents already trust.
    const bundles = await startBucketServer({
      root: bucketsDir(dir),
      tls: certs.server,
      buckets: [AGENT_BUNDLE_BUCKET],
      credentials: presignCredentials(dir),
      region: LOCAL_S3_REGION,
      ...(options.bundlePort !== undefined ? { port: options.bundlePort } : {}),
      log: (entry) => log({ component: "s3", ...entry }),
    });
    cleanup.push(() => bundles.close());
    progress(
      `agent bundles in ${join(bucketsDir(dir), AGENT_BUNDLE_BUCKET)}, presigned GETs on ${bundles.url}`,
    );
    proceed();

    // AWS IoT's certificate and thing registry: what fleet provisioning made survives restarts.
    const registry = createCertificateRegistry({ file: join(dir, "iot-registry.json") });

    const broker = await startLocalBroker({
      port: mqttPort,
      tls: { ca: certs.ca, ...certs.server },
      topicPrefix: prefix,
      serviceIdentities: [CLOUD_IDENTITY],
      basicIngestRules: [INGEST_RULE_NAME],
      // Provisioned devices are their things whatever their CN; claim certificates get the claim policy.
      principalOf: registryPrincipals(registry, claimsDir(dir), [LOCAL_TEMPLATE_NAME], (entry) =>
        log({ component: "provisioning", ...entry }),
      ),
      // The Device Shadow service's shadows, kept across restarts of the stack.
      shadows: {
        persistence: fileShadowPersistence(join(dir, "shadows.jsonl"), {
          log: (entry) => log({ component: "shadow", ...entry }),
        }),
      },
      // AWS IoT Jobs, kept across restarts too; an agent.update's bundle placeholder is
      // presigned on the bundle bucket's server each time the document is delivered.
      jobs: {
        persistence: fileJobsPersistence(join(dir, "jobs.json")),
        resolvePresignedUrl: (s3Url, context) => bundles.resolvePresignedUrl(s3Url, context),
      },
      ...(options.plainMqttPort !== undefined
        ? { plainListener: { port: options.plainMqttPort } }
        : {}),
      log: (entry) => log({ component: "broker", ...entry }),
    });
    cleanup.push(() => broker.close());
    proceed();
    progress(
      `MQTT broker on mqtts://127.0.0.1:${broker.port} (client certificates required)${broker.plainPort ? `, plain mqtt://127.0.0.1:${broker.plainPort}` : ""}`,
    );

    const fleet = startFleetStatus({
      aedes: broker.aedes,
      runtime,
      serviceIdentities: [CLOUD_IDENTITY],
      ...(options.gapMs !== undefined ? { gapMs: options.gapMs } : {}),
      ...(options.gapCheckMs !== undefined ? { checkEveryMs: options.gapCheckMs } : {}),
      ...(options.onPresence ? { onPresence: options.onPresence } : {}),
      log: (entry) => log({ component: "fleet", ...entry }),
    });
    // Stopped after the ingest (cleanups run newest first): the ingest's last sample times go through it.
    cleanup.push(() => fleet.stop());
    progress(
      `presence on $aws/events/presence/+/+ into the device statuses; data-gap alerts after ${fleet.gapMs / 1_000} s without samples, checked every ${fleet.checkEveryMs / 1_000} s`,
    );

    const failuresFile = join(dir, "ingest-failures.jsonl");
    const ingest = startIngestRule({
      aedes: broker.aedes,
      basicIngest: { rules: broker.rules, ruleName: INGEST_RULE_NAME },
      runtime,
      saveSampleTimes: fleet.saveSampleTimes,
      topicPrefix: prefix,
      retentionMs: 30 * DAY_MS,
      settleMs: options.settleMs ?? 5_000,
      failedFile: failuresFile,
      log: (entry) => log({ component: "ingest", ...entry }),
      ...(options.onStored ? { onStored: options.onStored } : {}),
    });
    cleanup.push(() => ingest.stop());
    proceed();
    progress(
      `ingest on ${prefix}/+/sensor/data and, with Basic Ingest, $aws/rules/${INGEST_RULE_NAME}/${prefix}/+/sensor/data; re-attribution on every commit`,
    );

    // AWS IoT's data plane for shadows, emulated on 127.0.0.1 and called with the AWS SDK,
    // as the API calls AWS IoT's in AWS.
    if (!broker.shadows) throw new Error("the broker runs without its shadow service");
    const dataPlane = await startShadowDataPlane(broker.shadows);
    cleanup.push(() => dataPlane.close());
    const iotData = connectIotDataShadows({
      endpoint: dataPlane.url,
      region: "local",
      credentials: localCredentials,
    });
    cleanup.push(async () => iotData.close());
    progress(
      `device shadows on $aws/things/{id}/shadow/… and AWS IoT's data plane at ${dataPlane.url}`,
    );

    // AWS IoT's Jobs control plane, emulated likewise; the API creates and lists jobs through it.
    if (!broker.jobs) throw new Error("the broker runs without its Jobs service");
    const jobsPlane = await startJobsControlPlane(broker.jobs);
    cleanup.push(() => jobsPlane.close());
    const iotJobs = connectIotDeviceJobs({
      endpoint: jobsPlane.url,
      region: "local",
      credentials: localCredentials,
      bundleBucket: AGENT_BUNDLE_BUCKET,
      presignRoleArn: "arn:aws:iam::000000000000:role/medusa-local-jobs-presign",
      rotationTemplate: LOCAL_ROTATION_TEMPLATE_NAME,
      ...(options.presignExpiresInSec !== undefined
        ? { presignExpiresInSec: options.presignExpiresInSec }
        : {}),
    });
    cleanup.push(async () => iotJobs.close());
    progress(`AWS IoT Jobs on $aws/things/{id}/jobs/… and its control plane at ${jobsPlane.url}`);

    const provisioning = startStackProvisioning({
      broker,
      ca: certs.authority,
      registry,
      allowList: dynamoAllowListLayer({ client, tables }),
      log,
    });
    cleanup.push(async () => provisioning.stop());
    const retirement = startStackCertificateRetirement({ broker, registry, log });
    cleanup.push(async () => retirement.stop());
    progress(
      `fleet provisioning by claim on $aws/certificates/create-from-csr/json and $aws/provisioning-templates/${LOCAL_TEMPLATE_NAME}/provision/json, allow-list in ${tables.allowList}`,
    );

    const secret = devSecret(dir);
    const app = createApp({
      layer: services,
      shadows: iotData.shadows,
      jobs: iotJobs.jobs,
      authenticate: jwtAuth({ secret }),
      // Sealed with a key kept with the data: a page's cursor still works after a restart.
      cursorKey: cursorKeyFrom(secret),
      onCommit: (commit) => {
        ingest.onCommit(commit);
        fleet.onCommit(commit);
      },
      log: (entry) => log({ component: "api", ...entry }),
    });
    const consoleDir = options.consoleDir ?? DEFAULT_CONSOLE_DIR;
    const withDevConsole =
      consoleDir !== false && existsSync(join(consoleDir, "index.html"))
        ? withConsole(app, {
            dir: consoleDir,
            config: {
              timeZone: clinicTimeZone(
                options.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
              ),
            },
            // The development sign-in: any role, any address, signed with the stack's secret.
            devSignIn: async ({ role, email }) => ({
              token: await signToken({ email, roles: [role] }, secret, "12h"),
              expiresAt: Date.now() + 12 * 3600_000,
            }),
          })
        : undefined;
    const server = await new Promise<Server>((ready, fail) => {
      const s = serve(
        { fetch: (withDevConsole ?? app).fetch, port: apiPort, hostname: "127.0.0.1" },
        () => ready(s as Server),
      ) as Server;
      s.once("error", fail);
    });
    cleanup.push(
      () =>
        new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections?.();
        }),
    );
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : apiPort;
    const apiUrl = `http://127.0.0.1:${port}`;
    const token = await signToken(
      { email: "dev-clinician@medusa.local", roles: ["clinician"] },
      secret,
      "12h",
    );
    progress(`API on ${apiUrl}`);
    progress(
      withDevConsole
        ? `console on ${apiUrl}/ (development sign-in)`
        : "no console: build it with pnpm --filter @medusa/console build",
    );
    proceed();

    const devices: Array<RunningDevice> = [];
    cleanup.push(async () => {
      await Promise.all(devices.map((d) => d.stop()));
    });
    for (const id of deviceIds) {
      const config = deviceConfig({
        dir,
        id,
        port: broker.port,
        certs,
        topicPrefix: prefix,
        sampleRateHz: options.sampleRateHz ?? 10,
        publishIntervalMs: options.publishIntervalMs ?? 1_000,
        ...(options.basicIngest ? { basicIngestRule: INGEST_RULE_NAME } : {}),
      });
      devices.push(
        await startDevice(config, { log: (entry) => log({ component: "device", ...entry }) }),
      );
      proceed();
    }
    if (count > 0) progress(`${count} simulated device(s): ${deviceIds.join(", ")}`);

    return {
      dir,
      apiUrl,
      consoleUrl: withDevConsole ? `${apiUrl}/` : undefined,
      mqttPort: broker.port,
      plainMqttPort: broker.plainPort,
      dynamoEndpoint: dynamo.endpoint,
      bundles,
      topicPrefix: prefix,
      basicIngestRule: INGEST_RULE_NAME,
      token,
      secret,
      deviceIds,
      devices,
      broker,
      stores,
      ingest,
      fleet,
      registry,
      provisioning,
      provisioningTemplate: LOCAL_TEMPLATE_NAME,
      failuresFile,
      certificates: (id) => {
        const pair = certs.clients[id];
        if (!pair) throw new Error(`no development certificate for ${id}`);
        return { ca: certs.ca, cert: pair.cert, key: pair.key };
      },
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
};
