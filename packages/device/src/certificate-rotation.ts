// certificate.rotate: a new key and certificate for this thing, connected with before the old one is let go.
import { createHash, createPrivateKey, X509Certificate } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import {
  CREATE_CERTIFICATE_FROM_CSR,
  CreateCertificateFromCsrResponse,
  type ProvisioningError,
  RegisterThingResponse,
  type RequestTopics,
  ROTATION_DETAILS,
  registerThingTopics,
  type TemplateName,
  THING_NAME_PARAMETER,
} from "@medusa/domain";
import { Schema } from "effect";
import { errorText } from "./errors.js";
import type { JobContext, JobOutcome, JobReport } from "./jobs-client.js";
import type { JobExecution } from "./jobs-protocol.js";
import {
  certificateSigningRequest,
  deviceKey,
  type ProvisioningAnswer,
  provisioningAnswer,
  writeFileAtomically,
} from "./provisioning.js";

/**
 * Certificate rotation as an AWS IoT job, with the fleet provisioning MQTT
 * API over the agent's own connection (its current certificate's policy
 * allows CreateCertificateFromCsr and RegisterThing on rotation templates):
 *
 * 1. a new key, written 0600 beside the current one (`{key}.next`), never
 *    over it; a CSR; `CreateCertificateFromCsr` → the new certificate
 *    (`{cert}.next`) and its ownership token;
 * 2. `RegisterThing` with the rotation template and `ThingName`: the new
 *    certificate is attached to this thing, with the device policy, ACTIVE;
 * 3. the connection is moved to the new certificate (same client id, same
 *    session); if it does not connect, back to the old one, FAILED;
 * 4. the files are swapped (the old ones kept as `.previous`), and the job
 *    reports SUCCEEDED with both certificate ids; only that report lets the
 *    cloud deactivate the old certificate.
 *
 * Every step is written down first (`certificate-rotation.json`); an agent
 * restarted in the middle finds the execution IN_PROGRESS again and ends it
 * from what the files show: the new certificate installed (SUCCEEDED), or
 * not (FAILED, the `.next` files removed, the old certificate kept).
 */

export interface CertificateRotationDeps {
  /** The thing, as the rotation template's `ThingName` (the MQTT client id, which the policy binds to it). */
  readonly thingName: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** Where the rotation's progress is kept (`certificate-rotation.json`). */
  readonly statePath: string;
  readonly transport: MqttConnectionService;
  readonly log: (line: string) => void;
  /** How long a request waits for its answer (default 15 s). */
  readonly answerTimeoutMs?: number;
  /** How long the new certificate has to connect (default 15 s). */
  readonly connectTimeoutMs?: number;
}

const RotationState = Schema.Struct({
  jobId: Schema.String,
  step: Schema.Literal("requesting", "registering", "connecting", "installing"),
  certificateId: Schema.optionalWith(Schema.String, { exact: true }),
  previousCertificateId: Schema.String,
});
type RotationState = typeof RotationState.Type;

/** AWS IoT's certificate id: the SHA-256 of the DER, lower-case hex. */
export const certificateIdOfPem = (pem: string): string =>
  createHash("sha256").update(new X509Certificate(pem).raw).digest("hex");

const done = (status: JobReport["status"], details: Record<string, string>): JobOutcome => ({
  kind: "done",
  report: { status, details },
});

type Answer = ProvisioningAnswer;

class Refused extends Error {}

export const certificateRotation = (deps: CertificateRotationDeps) => {
  const { transport, certPath, keyPath, statePath } = deps;
  const next = { cert: `${certPath}.next`, key: `${keyPath}.next` };
  const waiting = new Map<string, (answer: Answer) => void>();
  const subscribed = new Set<string>();

  const onAnswer = (topic: string, payload: Uint8Array) => {
    for (const [request, settle] of waiting) {
      const answer = provisioningAnswer(request, topic, payload);
      if (answer !== undefined) settle(answer);
    }
  };

  /** Publishes a request and waits for its answer (subscribed first, as AWS asks). */
  const call = async (topics: RequestTopics, body: unknown): Promise<Answer> => {
    for (const t of [topics.accepted, topics.rejected])
      if (!subscribed.has(t)) {
        await transport.subscribe(t, onAnswer);
        subscribed.add(t);
      }
    const timeoutMs = deps.answerTimeoutMs ?? 15_000;
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.delete(topics.request);
        reject(new Error(`no answer to ${topics.request} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(topics.request, (answer) => {
        clearTimeout(timer);
        waiting.delete(topics.request);
        resolve(answer);
      });
      transport.publish(topics.request, JSON.stringify(body)).catch((e: unknown) => {
        clearTimeout(timer);
        waiting.delete(topics.request);
        reject(e instanceof Error ? e : new Error(String(e)));
      });
    });
  };

  const refusal = (operation: string, e: ProvisioningError) =>
    new Refused(`${operation} refused: ${e.statusCode} ${e.errorCode}: ${e.errorMessage}`);

  const readState = (): RotationState | undefined => {
    if (!existsSync(statePath)) return undefined;
    try {
      return Schema.decodeUnknownSync(RotationState)(JSON.parse(readFileSync(statePath, "utf8")));
    } catch {
      return undefined;
    }
  };
  const writeState = (state: RotationState) =>
    writeFileAtomically(statePath, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  /** The new key and certificate dropped, the state forgotten: the old certificate is all there is. */
  const discard = () => {
    for (const path of [next.cert, next.key, statePath]) rmSync(path, { force: true });
  };

  const rotate = async (template: TemplateName, context: JobContext): Promise<JobOutcome> => {
    const jobId = context.execution.jobId;
    if (transport.useCredentials === undefined)
      return done("REJECTED", { reason: "this agent's connection cannot change certificates" });
    const previousCertificateId = certificateIdOfPem(readFileSync(certPath, "utf8"));
    const base = { jobId, previousCertificateId };
    try {
      rmSync(next.key, { force: true }); // a key from an earlier, unfinished rotation is not reused
      await writeState({ ...base, step: "requesting" });
      const { keys } = await deviceKey(next.key);
      await context.progress({ step: "requesting" });
      const created = await call(CREATE_CERTIFICATE_FROM_CSR, {
        certificateSigningRequest: await certificateSigningRequest(keys, deps.thingName),
      });
      if (!created.accepted) throw refusal("CreateCertificateFromCsr", created.error);
      const certificate = Schema.decodeUnknownSync(CreateCertificateFromCsrResponse)(created.body);
      await writeFileAtomically(next.cert, certificate.certificatePem, 0o644);
      const certificateId = certificate.certificateId;
      await writeState({ ...base, step: "registering", certificateId });
      await context.progress({ step: "registering", certificate_id: certificateId });
      const registered = await call(registerThingTopics(template), {
        certificateOwnershipToken: certificate.certificateOwnershipToken,
        parameters: { [THING_NAME_PARAMETER]: deps.thingName },
      });
      if (!registered.accepted) throw refusal("RegisterThing", registered.error);
      const thing = Schema.decodeUnknownSync(RegisterThingResponse)(registered.body).thingName;
      if (thing !== deps.thingName)
        throw new Refused(`RegisterThing attached the certificate to ${thing}, not this thing`);
      await writeState({ ...base, step: "connecting", certificateId });
      deps.log(`certificate.rotate: connecting with certificate ${certificateId}`);
      try {
        await transport.useCredentials(
          { cert: certificate.certificatePem, key: readFileSync(next.key, "utf8") },
          deps.connectTimeoutMs ?? 15_000,
        );
      } catch (e) {
        throw new Refused(
          `the new certificate ${certificateId} did not connect (${errorText(e)}); connected again with the old one`,
        );
      }
      await writeState({ ...base, step: "installing", certificateId });
      install();
      discard();
      deps.log(`certificate.rotate: certificate ${certificateId} installed`);
      return done("SUCCEEDED", {
        [ROTATION_DETAILS.certificateId]: certificateId,
        [ROTATION_DETAILS.previousCertificateId]: previousCertificateId,
      });
    } catch (e) {
      discard();
      const reason = errorText(e).slice(0, 1000);
      deps.log(`certificate.rotate failed: ${reason}`);
      return done("FAILED", {
        reason,
        [ROTATION_DETAILS.certificateId]: previousCertificateId,
      });
    }
  };

  /**
   * The new files in place, the old ones kept as `.previous`. Each rename is
   * whole; a power cut between the two leaves the new certificate with the
   * key still at `.next`, which `recoverCertificateFiles` completes at start.
   */
  const install = () => {
    copyFileSync(certPath, `${certPath}.previous`);
    copyFileSync(keyPath, `${keyPath}.previous`);
    chmodSync(`${keyPath}.previous`, 0o600);
    renameSync(next.cert, certPath);
    renameSync(next.key, keyPath);
  };

  /** An IN_PROGRESS rotation found at start: the files say how far it got. */
  const resume = (execution: JobExecution): JobOutcome | "again" => {
    recoverCertificateFiles(certPath, keyPath, deps.log);
    const state = readState();
    // start-next hands every execution over IN_PROGRESS: one never begun here runs now.
    if (state?.jobId !== execution.jobId && execution.statusDetails.step === undefined)
      return "again";
    const current = existsSync(certPath) ? certificateIdOfPem(readFileSync(certPath, "utf8")) : "";
    const ours = state?.jobId === execution.jobId ? state : undefined;
    if (ours?.step === "installing" && current === ours.certificateId) {
      discard();
      return done("SUCCEEDED", {
        [ROTATION_DETAILS.certificateId]: current,
        [ROTATION_DETAILS.previousCertificateId]: ours.previousCertificateId,
      });
    }
    discard();
    return done("FAILED", {
      reason: `the agent restarted during the rotation (step ${ours?.step ?? execution.statusDetails.step ?? "unknown"}) before the new certificate was installed; the old certificate is kept`,
      [ROTATION_DETAILS.certificateId]: current,
    });
  };

  return { rotate, resume };
};

/**
 * Completes a certificate swap a power cut interrupted: the certificate file
 * is the new one and its key still waits at `{key}.next`. Run before the TLS
 * files are read; does nothing otherwise. True when it moved the key.
 */
export const recoverCertificateFiles = (
  certPath: string,
  keyPath: string,
  log: (line: string) => void = () => {},
): boolean => {
  const nextKey = `${keyPath}.next`;
  if (!existsSync(nextKey) || existsSync(`${certPath}.next`) || !existsSync(certPath)) return false;
  try {
    const cert = new X509Certificate(readFileSync(certPath, "utf8"));
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(nextKey, "utf8")))) return false;
  } catch {
    return false;
  }
  renameSync(nextKey, keyPath);
  log(`certificate.rotate: the key of the new certificate moved into place (${keyPath})`);
  return true;
};
