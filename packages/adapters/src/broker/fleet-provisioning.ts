import { randomBytes, webcrypto } from "node:crypto";
import type { TLSSocket } from "node:tls";
import {
  applyProvisioningTemplate,
  CREATE_CERTIFICATE_FROM_CSR,
  CreateCertificateFromCsrRequest,
  type CreateCertificateFromCsrResponse,
  decideRotation,
  isRotationTemplate,
  OWNERSHIP_TOKEN_TTL_MS,
  PreProvisioningRequest,
  type ProvisioningError,
  provisioningError,
  RegisterThingRequest,
  type RegisterThingResponse,
  registerThingTopics,
  type TemplateName,
  templateOfRegisterThing,
  topicMatches,
} from "@medusa/domain";
import type { AedesPublishPacket, Client } from "aedes";
import { Either, ParseResult, Schema } from "effect";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import {
  type CertificateRegistry,
  certificateIdOf,
  type ThingRecord,
} from "./certificate-registry.js";
import { type DevCa, issueDeviceCert, type KeyAndCert } from "./dev-ca.js";
import type { LocalBroker } from "./local-broker.js";
import { payloadBytes } from "./payload.js";

/**
 * AWS IoT fleet provisioning by claim, emulated on the local broker
 * (https://docs.aws.amazon.com/iot/latest/developerguide/fleet-provision-api.html):
 * `CreateCertificateFromCsr` signs the device's CSR with the development CA
 * and answers with the certificate, its id and an ownership token (good for
 * an hour); `RegisterThing` takes the token and the device's parameters,
 * asks the template's pre-provisioning hook, applies the template (the
 * thing, the certificate activated and attached with its policy) and
 * answers with the thing's name. Every refusal is AWS's `/rejected` shape
 * (`statusCode`, `errorCode`, `errorMessage`). Answers go to the connection
 * that asked, and only when it subscribed to the answer topic, as on AWS.
 */

const crypto = webcrypto;
x509.cryptoProvider.set(crypto);

/** AWS IoT's certificates from a CSR are valid until the end of 2049. */
const NOT_AFTER = new Date("2049-12-31T23:59:59Z");
/** The pre-provisioning hook "must return within 5 seconds" (pre-provisioning-hook.html). */
export const HOOK_TIMEOUT_MS = 5_000;

/** A template as the local stack runs it: its body and, optionally, its pre-provisioning hook. */
export interface ProvisioningTemplateSetup {
  /** The template body (AWS's syntax; `fleetProvisioningTemplate` from the domain makes ours). */
  readonly body: unknown;
  /**
   * The hook, called as AWS IoT calls the Lambda function: the documented
   * request in, `{ allowProvisioning, parameterOverrides? }` out.
   */
  readonly preProvisioningHook?: (event: unknown) => Promise<unknown>;
}

export interface FleetProvisioningOptions {
  /** Signs the certificates (the development CA the broker trusts). */
  readonly ca: DevCa;
  readonly registry: CertificateRegistry;
  readonly templates: Readonly<Record<TemplateName, ProvisioningTemplateSetup>>;
  /** For the template ARN the hook sees. */
  readonly region?: string;
  readonly accountId?: string;
  readonly now?: () => number;
  readonly hookTimeoutMs?: number;
  /** Called once for every RegisterThing that created a thing. */
  readonly onThingCreated?: (thing: ThingRecord) => void;
  readonly log?: (entry: Record<string, unknown>) => void;
}

export interface FleetProvisioning {
  readonly stats: () => {
    readonly certificatesIssued: number;
    readonly thingsCreated: number;
    readonly rejected: number;
  };
  readonly stop: () => void;
}

const HookResponse = Schema.Struct({
  allowProvisioning: Schema.Boolean,
  parameterOverrides: Schema.optionalWith(
    Schema.Record({ key: Schema.String, value: Schema.String }),
    { exact: true },
  ),
});

const decodeJson = <A, I>(schema: Schema.Schema<A, I>, payload: Buffer) => {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString("utf8"));
  } catch (e) {
    return Either.left(`the payload is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return Either.mapLeft(Schema.decodeUnknownEither(schema)(json), (e) =>
    ParseResult.ArrayFormatter.formatErrorSync(e)
      .map((i) => `${i.path.join(".") || "payload"}: ${i.message}`)
      .join("; "),
  );
};

class Rejection {
  constructor(readonly error: ProvisioningError) {}
}
const reject = (kind: Parameters<typeof provisioningError>[0], message: string): never => {
  throw new Rejection(provisioningError(kind, message));
};

/**
 * The rotation template's pre-provisioning hook (`decideRotation`): a device
 * adds a certificate to its own thing only. The stack runs this; in AWS the
 * same decision runs in a Lambda function.
 */
export const rotationPreProvisioningHook =
  (log: (entry: Record<string, unknown>) => void = () => {}) =>
  async (event: unknown): Promise<unknown> => {
    const request = Schema.decodeUnknownEither(PreProvisioningRequest)(event);
    if (Either.isLeft(request)) {
      log({ level: "warn", msg: "rotation hook: the request cannot be read" });
      return { allowProvisioning: false };
    }
    const decision = decideRotation(request.right);
    if (!decision.allow)
      log({ level: "warn", msg: "rotation refused by the hook", reason: decision.reason });
    return { allowProvisioning: decision.allow };
  };

/** Signs a CSR as CreateCertificateFromCsr does: its subject and key, the CA's signature. */
export const signCertificateRequest = async (ca: DevCa, csrPem: string): Promise<string> => {
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (e) {
    return reject(
      "invalidCsr",
      `the certificate signing request cannot be read: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  let valid = false;
  try {
    valid = await csr.verify();
  } catch {
    valid = false;
  }
  if (!valid)
    return reject("invalidCsr", "the certificate signing request's signature does not verify");
  const certificate = await x509.X509CertificateGenerator.create({
    subject: csr.subjectName,
    issuer: ca.certificate.subject,
    publicKey: csr.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
    serialNumber: randomBytes(16)
      .toString("hex")
      .replace(/^[89a-f]/, "1"),
    notBefore: new Date(Date.now() - 60_000),
    notAfter: NOT_AFTER,
    extensions: [
      new x509.BasicConstraintsExtension(false),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  return certificate.toString("pem");
};

/** A claim certificate for a production batch, from the development CA, registered to the claim policy. */
export const issueClaimCertificate = async (
  ca: DevCa,
  registry: CertificateRegistry,
  templates: ReadonlyArray<TemplateName>,
  name = "medusa-claim",
): Promise<KeyAndCert & { readonly certificateId: string }> => {
  const pair = await issueDeviceCert(ca, name);
  return { ...pair, certificateId: registry.registerClaimCertificate(pair.cert, templates) };
};

const peerCertificateDer = (client: Client): Buffer | undefined => {
  const socket = client.conn as Partial<TLSSocket>;
  const raw = typeof socket.getPeerCertificate === "function" && socket.getPeerCertificate()?.raw;
  return raw || undefined;
};
const peerCertificateId = (client: Client): string | undefined => {
  const raw = peerCertificateDer(client);
  return raw ? certificateIdOf(raw) : undefined;
};

/** Starts answering the provisioning requests published on `broker`. */
export const startFleetProvisioning = (
  broker: LocalBroker,
  options: FleetProvisioningOptions,
): FleetProvisioning => {
  const { registry, ca } = options;
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  const hookTimeoutMs = options.hookTimeoutMs ?? HOOK_TIMEOUT_MS;
  const counts = { certificatesIssued: 0, thingsCreated: 0, rejected: 0 };
  const templateArn = (name: string) =>
    `arn:aws:iot:${options.region ?? "local"}:${options.accountId ?? "000000000000"}:provisioningtemplate/${name}`;

  /** Sends the answer to the asking client only, if it subscribed to it (AWS drops it otherwise). */
  const answer = (client: Client, topic: string, body: unknown) => {
    const subscribed = Object.keys(
      (client as Client & { subscriptions?: Record<string, unknown> }).subscriptions ?? {},
    ).some((filter) => topicMatches(filter, topic));
    if (!subscribed) {
      log({
        level: "warn",
        msg: "provisioning answer dropped: the client did not subscribe to it",
        client_id: client.id,
        topic,
      });
      return;
    }
    client.publish(
      {
        cmd: "publish",
        topic,
        payload: Buffer.from(JSON.stringify(body)),
        qos: 1,
        retain: false,
        dup: false,
      } as AedesPublishPacket,
      () => {},
    );
  };

  const createCertificateFromCsr = async (
    payload: Buffer,
  ): Promise<CreateCertificateFromCsrResponse> => {
    const request = decodeJson(CreateCertificateFromCsrRequest, payload);
    if (Either.isLeft(request)) return reject("invalidPayload", request.left);
    const certificatePem = await signCertificateRequest(
      ca,
      request.right.certificateSigningRequest,
    );
    const at = now();
    registry.sweep(at);
    const certificateId = certificateIdOf(
      Buffer.from(x509.PemConverter.decodeFirst(certificatePem)),
    );
    const certificateOwnershipToken = randomBytes(96).toString("base64");
    registry.addPendingCertificate({
      certificateId,
      certificatePem,
      ownershipToken: certificateOwnershipToken,
      tokenExpiresAt: at + OWNERSHIP_TOKEN_TTL_MS,
      createdAt: at,
    });
    counts.certificatesIssued++;
    return { certificateOwnershipToken, certificateId, certificatePem };
  };

  const callHook = async (
    hook: (event: unknown) => Promise<unknown>,
    event: Record<string, unknown>,
  ) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      const response = await Promise.race([
        hook(event),
        new Promise<never>((_, fail) => {
          timer = setTimeout(
            () => fail(new Error(`no answer within ${hookTimeoutMs} ms`)),
            hookTimeoutMs,
          );
        }),
      ]);
      const decoded = Schema.decodeUnknownEither(HookResponse)(response);
      if (Either.isLeft(decoded))
        return reject(
          "accessDenied",
          "Access denied: the pre-provisioning hook's answer is not a valid response",
        );
      return decoded.right;
    } catch (e) {
      log({
        level: "warn",
        msg: "pre-provisioning hook failed",
        error: e instanceof Error ? e.message : String(e),
      });
      return reject("accessDenied", "Access denied: the pre-provisioning hook failed");
    } finally {
      clearTimeout(timer);
    }
  };

  const registerThing = async (
    template: TemplateName,
    client: Client,
    payload: Buffer,
  ): Promise<RegisterThingResponse> => {
    const setup = options.templates[template];
    if (setup === undefined)
      return reject("templateNotFound", `The provisioning template ${template} does not exist`);
    const request = decodeJson(RegisterThingRequest, payload);
    if (Either.isLeft(request)) return reject("invalidPayload", request.left);
    const { certificateOwnershipToken: token, parameters = {} } = request.right;
    if (token === "") return reject("invalidToken", "Certificate ownership token cannot be empty.");
    const certificate = registry.certificateOfToken(token, now());
    if (certificate === undefined)
      return reject(
        "invalidToken",
        "The certificate ownership token is not valid: unknown, or expired after its hour",
      );
    if (certificate.thingName !== undefined)
      // The same token again (the device lost the answer): the same answer.
      return {
        thingName: certificate.thingName,
        deviceConfiguration: certificate.deviceConfiguration ?? {},
      };
    let merged: Record<string, string> = { ...parameters };
    if (setup.preProvisioningHook) {
      const verdict = await callHook(setup.preProvisioningHook, {
        claimCertificateId: peerCertificateId(client) ?? "",
        certificateId: certificate.certificateId,
        certificatePem: certificate.certificatePem,
        templateArn: templateArn(template),
        clientId: client.id,
        parameters,
      });
      if (!verdict.allowProvisioning)
        return reject("accessDenied", "Access denied: the pre-provisioning hook refused it");
      merged = { ...merged, ...verdict.parameterOverrides };
    }
    const outcome = applyProvisioningTemplate(setup.body, merged, certificate.certificateId);
    if (Either.isLeft(outcome)) return reject("registrationFailed", outcome.left);
    const { thing, certificateStatus, policyNames, deviceConfiguration } = outcome.right;
    if (thing === undefined) return reject("registrationFailed", "the template creates no thing");
    // The hook took time: the token may have been used meanwhile by a second request.
    const fresh = registry.certificate(certificate.certificateId);
    if (fresh?.thingName !== undefined)
      return { thingName: fresh.thingName, deviceConfiguration: fresh.deviceConfiguration ?? {} };
    const caller = peerCertificateDer(client);
    if (isRotationTemplate(template) && caller && client.id === thing.thingName)
      // A device rotating a certificate the stack issued by CN: AWS IoT has every
      // certificate in its registry, so that the old one can be deactivated later.
      registry.adoptCertificate({
        certificateId: certificateIdOf(caller),
        certificatePem: x509.PemConverter.encode(new Uint8Array(caller), "CERTIFICATE"),
        thingName: thing.thingName,
        now: now(),
      });
    const { created } = registry.registerThing({
      certificateId: certificate.certificateId,
      thingName: thing.thingName,
      attributes: thing.attributes,
      status: certificateStatus,
      policyNames,
      deviceConfiguration,
      now: now(),
    });
    if (created) {
      counts.thingsCreated++;
      const record = registry.thing(thing.thingName);
      if (record) options.onThingCreated?.(record);
    }
    log({
      level: "info",
      msg: created ? "thing provisioned" : "certificate added to a provisioned thing",
      thing: thing.thingName,
      certificate_id: certificate.certificateId,
      client_id: client.id,
    });
    return { thingName: thing.thingName, deviceConfiguration };
  };

  const serve = async (
    client: Client,
    topics: { readonly accepted: string; readonly rejected: string },
    operation: string,
    run: () => Promise<unknown>,
  ) => {
    try {
      answer(client, topics.accepted, await run());
    } catch (e) {
      const error =
        e instanceof Rejection
          ? e.error
          : provisioningError("internal", "An internal error occurred; try again");
      if (!(e instanceof Rejection))
        log({ level: "error", msg: `${operation} failed`, error: String(e) });
      counts.rejected++;
      log({
        level: "warn",
        msg: `${operation} rejected`,
        client_id: client.id,
        status_code: error.statusCode,
        error_code: error.errorCode,
        reason: error.errorMessage,
      });
      answer(client, topics.rejected, error);
    }
  };

  const onPublish = (packet: AedesPublishPacket, client: Client | null) => {
    if (client === null) return;
    const payload = payloadBytes(packet);
    if (packet.topic === CREATE_CERTIFICATE_FROM_CSR.request) {
      void serve(client, CREATE_CERTIFICATE_FROM_CSR, "CreateCertificateFromCsr", () =>
        createCertificateFromCsr(payload),
      );
      return;
    }
    const template = templateOfRegisterThing(packet.topic);
    if (template !== undefined)
      void serve(client, registerThingTopics(template), "RegisterThing", () =>
        registerThing(template, client, payload),
      );
  };
  broker.aedes.on("publish", onPublish);
  return {
    stats: () => ({ ...counts }),
    stop: () => {
      broker.aedes.removeListener("publish", onPublish);
    },
  };
};
