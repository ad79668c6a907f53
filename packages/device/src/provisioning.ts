import { webcrypto } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { join } from "node:path";
import {
  CLAIM_CLIENT_ID_PREFIX,
  CREATE_CERTIFICATE_FROM_CSR,
  CreateCertificateFromCsrResponse,
  OWNERSHIP_TOKEN_TTL_MS,
  ProvisioningError,
  RegisterThingResponse,
  type RequestTopics,
  registerThingTopics,
  rejectionOutcome,
  SerialNumber,
  type TemplateName,
} from "@medusa/domain";
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { Either, Schema } from "effect";
import mqtt, { type MqttClient } from "mqtt";

/**
 * First boot by fleet provisioning with a claim certificate
 * (https://docs.aws.amazon.com/iot/latest/developerguide/provision-wo-cert.html):
 * a key pair made here (the private key is written 0600 and never sent), a
 * CSR, `CreateCertificateFromCsr`, `RegisterThing` with the ownership token
 * and the serial number, then the certificate and the thing's name stored.
 *
 * Every step is written down before the next is taken (atomically: a
 * temporary file, fsync, rename), so a power cut anywhere resumes where it
 * stopped: the one key file is made once and reused, a certificate whose
 * token is still good is registered rather than asked for again, and the
 * template names the thing by the serial number, so even a certificate asked
 * for twice ends on the same thing. A device that is provisioned already
 * does nothing.
 */

const crypto = webcrypto;
x509.cryptoProvider.set(crypto);

/** ECDSA P-256 with SHA-256: AWS IoT Core accepts it, and a Pi makes one in milliseconds. */
const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
/** A token this close to its hour is not used: RegisterThing could reach AWS after it expired. */
const TOKEN_MARGIN_MS = 5 * 60_000;

/** The files provisioning keeps in its folder (on the device only). */
export const PROVISIONING_FILES = {
  key: "device.private.key",
  certificate: "device.pem.crt",
  state: "provisioning.json",
} as const;

/** A provisioning request AWS IoT (or the local stack) refused, as it said it. */
export class ProvisioningRefused extends Schema.TaggedError<ProvisioningRefused>()(
  "ProvisioningRefused",
  {
    operation: Schema.Literal("CreateCertificateFromCsr", "RegisterThing"),
    statusCode: Schema.Number,
    errorCode: Schema.String,
    errorMessage: Schema.String,
  },
) {
  override get message(): string {
    return `${this.operation} refused: ${this.statusCode} ${this.errorCode}: ${this.errorMessage}`;
  }
}

/** Provisioning gave up after its attempts (the last reason kept). */
export class ProvisioningFailed extends Schema.TaggedError<ProvisioningFailed>()(
  "ProvisioningFailed",
  { attempts: Schema.Number, reason: Schema.String },
) {
  override get message(): string {
    return `provisioning failed after ${this.attempts} attempt(s): ${this.reason}`;
  }
}

/** The serial number a Raspberry Pi reports: the `Serial` line of `/proc/cpuinfo`. */
export const serialFromCpuinfo = (cpuinfo: string): SerialNumber | undefined => {
  const value = /^Serial\s*:\s*([0-9a-fA-F]+)\s*$/m.exec(cpuinfo)?.[1];
  return value !== undefined && Schema.is(SerialNumber)(value) ? value : undefined;
};

const ProvisioningState = Schema.Struct({
  serialNumber: Schema.String,
  /** CreateCertificateFromCsr's answer, kept until RegisterThing takes it. */
  pending: Schema.optionalWith(
    Schema.Struct({
      certificateId: Schema.String,
      certificatePem: Schema.String,
      certificateOwnershipToken: Schema.String,
      issuedAt: Schema.Number,
    }),
    { exact: true },
  ),
  /** Set once RegisterThing accepted: the device is this thing. */
  thingName: Schema.optionalWith(Schema.String, { exact: true }),
  certificateId: Schema.optionalWith(Schema.String, { exact: true }),
});
type ProvisioningState = typeof ProvisioningState.Type;

export interface ProvisioningOptions {
  readonly broker: { readonly host: string; readonly port: number; readonly caPem: string };
  /** The claim certificate and key flashed on the batch. */
  readonly claim: { readonly certPem: string; readonly keyPem: string };
  readonly template: TemplateName;
  readonly serialNumber: SerialNumber;
  /** Where the key, the certificate and the state are kept (made 0700). */
  readonly dir: string;
  /** Tries, all steps counted, before giving up (default: no limit). */
  readonly maxAttempts?: number;
  readonly backoff?: { readonly baseMs: number; readonly capMs: number };
  /** How long to wait for an answer before asking again. */
  readonly answerTimeoutMs?: number;
  readonly now?: () => number;
  readonly log?: (entry: Record<string, unknown>) => void;
}

export interface Provisioned {
  readonly thingName: string;
  readonly certificateId: string;
  readonly certificatePath: string;
  readonly keyPath: string;
  /** False: the device was provisioned before; nothing was asked. */
  readonly provisionedNow: boolean;
}

/**
 * Writes a file so that it is either the old one or the whole new one, after a
 * power cut too. Asynchronous: the fsync waits on libuv's pool, not on the
 * event loop, so nothing else the process does (a broker in the same process
 * in tests, the agent's sampling during a certificate rotation) stalls behind
 * the disk.
 */
export const writeFileAtomically = async (path: string, content: string, mode: number) => {
  const tmp = `${path}.tmp`;
  const file = await open(tmp, "w", mode);
  try {
    await file.writeFile(content);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
};

/** The device's key: made once, 0600; what a power cut left is reused, never a second key. */
export const deviceKey = async (
  path: string,
): Promise<{ keys: webcrypto.CryptoKeyPair; made: boolean }> => {
  if (existsSync(path)) {
    const pem = readFileSync(path, "utf8");
    const privateKey = await crypto.subtle.importKey(
      "pkcs8",
      x509.PemConverter.decodeFirst(pem),
      ALGORITHM,
      true,
      ["sign"],
    );
    // The public key is the private JWK without its secret part.
    const { d: _secret, ...jwk } = await crypto.subtle.exportKey("jwk", privateKey);
    const publicKey = await crypto.subtle.importKey(
      "jwk",
      { ...jwk, key_ops: ["verify"] },
      ALGORITHM,
      true,
      ["verify"],
    );
    return { keys: { privateKey, publicKey }, made: false };
  }
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
  const pem = x509.PemConverter.encode(
    await crypto.subtle.exportKey("pkcs8", keys.privateKey),
    "PRIVATE KEY",
  );
  await writeFileAtomically(path, pem, 0o600);
  return { keys, made: true };
};

export const certificateSigningRequest = async (keys: webcrypto.CryptoKeyPair, serial: string) =>
  (
    await x509.Pkcs10CertificateRequestGenerator.create({
      // AWS keeps the subject; the thing is bound by attachment, not by this name.
      name: [{ CN: [serial] }],
      keys,
      signingAlgorithm: ALGORITHM,
    })
  ).toString("pem");

/** What AWS IoT answered a provisioning request (CreateCertificateFromCsr, RegisterThing). */
export type ProvisioningAnswer =
  | { readonly accepted: true; readonly body: unknown }
  | { readonly accepted: false; readonly error: ProvisioningError };
type Answer = ProvisioningAnswer;

/**
 * The answer to `request` that a message on `topic` carries, if it is one
 * (`{request}/accepted` or `/rejected`); a rejection that is not AWS's error
 * document is kept as an `UnreadableRejection` with its first 200 characters.
 */
export const provisioningAnswer = (
  request: string,
  topic: string,
  payload: Uint8Array,
): ProvisioningAnswer | undefined => {
  if (topic !== `${request}/accepted` && topic !== `${request}/rejected`) return undefined;
  const text = Buffer.from(payload).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (topic.endsWith("/accepted")) return { accepted: true, body: json };
  const error = Schema.decodeUnknownEither(ProvisioningError)(json);
  return {
    accepted: false,
    error: Either.isRight(error)
      ? error.right
      : { statusCode: 500, errorCode: "UnreadableRejection", errorMessage: text.slice(0, 200) },
  };
};

/** One claim connection, subscribed to the answers before anything is asked. */
const claimConnection = async (options: ProvisioningOptions) => {
  const client: MqttClient = mqtt.connect({
    protocol: "mqtts",
    host: options.broker.host,
    port: options.broker.port,
    clientId: `${CLAIM_CLIENT_ID_PREFIX}${options.serialNumber}`,
    ca: options.broker.caPem,
    cert: options.claim.certPem,
    key: options.claim.keyPem,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    clean: true,
  });
  const waiting = new Map<string, (answer: Answer) => void>();
  client.on("message", (topic, payload) => {
    for (const [request, settle] of waiting) {
      const answer = provisioningAnswer(request, topic, payload);
      if (answer !== undefined) settle(answer);
    }
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
    client.once("close", () => reject(new Error("the broker closed the claim connection")));
  });
  client.on("error", () => {});
  const topics = [CREATE_CERTIFICATE_FROM_CSR, registerThingTopics(options.template)].flatMap(
    (t) => [t.accepted, t.rejected],
  );
  const granted = await client.subscribeAsync(topics, { qos: 1 });
  if (granted.some((g) => g.qos === 128))
    throw new Error("the claim certificate may not subscribe to the provisioning answers");
  const timeoutMs = options.answerTimeoutMs ?? 15_000;
  /** Publishes a request and waits for its answer (one at a time: the API has no correlation token). */
  const call = (topics: RequestTopics, body: unknown): Promise<Answer> =>
    new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(topics.request);
        reject(new Error(`no answer to ${topics.request} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onClose = () => {
        clearTimeout(timer);
        waiting.delete(topics.request);
        reject(new Error("the claim connection closed before the answer"));
      };
      client.once("close", onClose);
      waiting.set(topics.request, (answer) => {
        clearTimeout(timer);
        client.removeListener("close", onClose);
        waiting.delete(topics.request);
        resolve(answer);
      });
      client.publish(topics.request, JSON.stringify(body), { qos: 1 }, (e) => {
        if (e) onClose();
      });
    });
  return { call, end: () => client.endAsync(true).catch(() => {}) };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Provisions the device, or finds it provisioned. Resolves with the thing
 * and the certificate's files; rejects with `ProvisioningRefused` when AWS
 * refused in a way no retry can change (unknown serial, bad request), or
 * `ProvisioningFailed` after `maxAttempts`.
 */
export const provisionDevice = async (options: ProvisioningOptions): Promise<Provisioned> => {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  mkdirSync(options.dir, { recursive: true, mode: 0o700 });
  const keyPath = join(options.dir, PROVISIONING_FILES.key);
  const certificatePath = join(options.dir, PROVISIONING_FILES.certificate);
  const statePath = join(options.dir, PROVISIONING_FILES.state);
  const readState = (): ProvisioningState => {
    if (!existsSync(statePath)) return { serialNumber: options.serialNumber };
    return Schema.decodeUnknownSync(ProvisioningState)(JSON.parse(readFileSync(statePath, "utf8")));
  };
  const writeState = (state: ProvisioningState) =>
    writeFileAtomically(statePath, `${JSON.stringify(state, null, 2)}\n`, 0o600);

  let state = readState();
  if (state.serialNumber !== options.serialNumber)
    throw new Error(
      `${statePath} belongs to serial number ${state.serialNumber}, not ${options.serialNumber}: this folder is another device's`,
    );
  if (
    state.thingName !== undefined &&
    state.certificateId !== undefined &&
    existsSync(certificatePath)
  )
    return {
      thingName: state.thingName,
      certificateId: state.certificateId,
      certificatePath,
      keyPath,
      provisionedNow: false,
    };

  const { keys, made } = await deviceKey(keyPath);
  log({ level: "info", msg: made ? "device key made" : "device key found", path: keyPath });
  const backoff = options.backoff ?? { baseMs: 1_000, capMs: 60_000 };
  const maxAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
  let attempt = 0;
  const retryLater = async (reason: string) => {
    if (attempt >= maxAttempts) throw new ProvisioningFailed({ attempts: attempt, reason });
    // Full jitter: a batch switched on at once does not ask in step.
    const wait = Math.random() * Math.min(backoff.capMs, backoff.baseMs * 2 ** (attempt - 1));
    log({ level: "warn", msg: "provisioning: will retry", reason, wait_ms: Math.round(wait) });
    await sleep(wait);
  };

  for (;;) {
    attempt++;
    let connection: Awaited<ReturnType<typeof claimConnection>> | undefined;
    try {
      connection = await claimConnection(options);
      const usable =
        state.pending !== undefined &&
        state.pending.issuedAt + OWNERSHIP_TOKEN_TTL_MS - TOKEN_MARGIN_MS > now();
      if (!usable) {
        const answer = await connection.call(CREATE_CERTIFICATE_FROM_CSR, {
          certificateSigningRequest: await certificateSigningRequest(keys, options.serialNumber),
        });
        if (!answer.accepted) {
          const outcome = rejectionOutcome("CreateCertificateFromCsr", answer.error);
          if (outcome === "refused")
            throw new ProvisioningRefused({
              operation: "CreateCertificateFromCsr",
              ...answer.error,
            });
          await retryLater(
            `CreateCertificateFromCsr: ${answer.error.statusCode} ${answer.error.errorCode}: ${answer.error.errorMessage}`,
          );
          continue;
        }
        const created = Schema.decodeUnknownSync(CreateCertificateFromCsrResponse)(answer.body);
        state = {
          serialNumber: options.serialNumber,
          pending: {
            certificateId: created.certificateId,
            certificatePem: created.certificatePem,
            certificateOwnershipToken: created.certificateOwnershipToken,
            issuedAt: now(),
          },
        };
        await writeState(state);
        log({ level: "info", msg: "certificate issued", certificate_id: created.certificateId });
      }
      const pending = state.pending as NonNullable<ProvisioningState["pending"]>;
      const answer = await connection.call(registerThingTopics(options.template), {
        certificateOwnershipToken: pending.certificateOwnershipToken,
        parameters: { SerialNumber: options.serialNumber },
      });
      if (!answer.accepted) {
        const outcome = rejectionOutcome("RegisterThing", answer.error);
        if (outcome === "refused")
          throw new ProvisioningRefused({ operation: "RegisterThing", ...answer.error });
        if (outcome === "new-certificate") {
          state = { serialNumber: options.serialNumber };
          await writeState(state);
        }
        await retryLater(
          `RegisterThing: ${answer.error.statusCode} ${answer.error.errorCode}: ${answer.error.errorMessage}`,
        );
        continue;
      }
      const registered = Schema.decodeUnknownSync(RegisterThingResponse)(answer.body);
      await writeFileAtomically(certificatePath, pending.certificatePem, 0o644);
      state = {
        serialNumber: options.serialNumber,
        thingName: registered.thingName,
        certificateId: pending.certificateId,
      };
      await writeState(state);
      log({
        level: "info",
        msg: "provisioned",
        thing: registered.thingName,
        certificate_id: pending.certificateId,
        attempts: attempt,
      });
      return {
        thingName: registered.thingName,
        certificateId: pending.certificateId,
        certificatePath,
        keyPath,
        provisionedNow: true,
      };
    } catch (e) {
      if (e instanceof ProvisioningRefused || e instanceof ProvisioningFailed) throw e;
      await retryLater(e instanceof Error ? e.message : String(e));
    } finally {
      await connection?.end();
    }
  }
};
