import { certificatesToRetire } from "@medusa/domain";
import type { AedesPublishPacket, Client } from "aedes";
import { Schema } from "effect";
import type { CertificateRegistry } from "./certificate-registry.js";
import type { LocalBroker } from "./local-broker.js";

/**
 * The cloud half of a certificate rotation, on the local broker: what the
 * IoT rule on `$aws/events/jobExecution/+/succeeded` and its Lambda function
 * do in AWS. When a `certificate.rotate` execution SUCCEEDED (the device has
 * connected with its new certificate and said so), every other ACTIVE
 * certificate of the thing is deactivated (UpdateCertificate INACTIVE), and
 * the broker refuses it from then on. Before that event, and after a FAILED
 * rotation, nothing changes: the old certificate keeps working.
 */

/** The Jobs event of an execution that SUCCEEDED (events-jobs.html). */
export const JobExecutionSucceeded = Schema.Struct({
  eventType: Schema.Literal("JOB_EXECUTION"),
  operation: Schema.Literal("succeeded"),
  jobId: Schema.String,
  thingArn: Schema.String,
  status: Schema.Literal("SUCCEEDED"),
  statusDetails: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    exact: true,
  }),
});
export type JobExecutionSucceeded = typeof JobExecutionSucceeded.Type;

export const SUCCEEDED_EVENTS = /^\$aws\/events\/jobExecution\/([^/]+)\/succeeded$/;

export interface CertificateRetirementOptions {
  readonly registry: CertificateRegistry;
  /** The job's document operation (DescribeJob); only `certificate.rotate` jobs retire certificates. */
  readonly operationOf: (jobId: string) => string | undefined;
  readonly log?: (entry: Record<string, unknown>) => void;
  /** Told of every retirement decided (tests, the stack's log). */
  readonly onRetired?: (thingName: string, certificateIds: ReadonlyArray<string>) => void;
}

/** What one SUCCEEDED event did: the certificates deactivated, or why none. */
export type RetirementOutcome =
  | { readonly kind: "ignored"; readonly reason: string }
  | { readonly kind: "refused"; readonly reason: string }
  | {
      readonly kind: "retired";
      readonly thingName: string;
      readonly certificateIds: ReadonlyArray<string>;
    };

/** Handles one event; the same decision as the Lambda function's. */
export const retireReplacedCertificates = (
  event: JobExecutionSucceeded,
  options: CertificateRetirementOptions,
): RetirementOutcome => {
  if (options.operationOf(event.jobId) !== "certificate.rotate")
    return { kind: "ignored", reason: "not a certificate.rotate job" };
  const thingName = /:thing\/(.+)$/.exec(event.thingArn)?.[1];
  const thing = thingName === undefined ? undefined : options.registry.thing(thingName);
  if (thingName === undefined || thing === undefined)
    return { kind: "refused", reason: `no thing ${event.thingArn} in the registry` };
  const attached = thing.principals.flatMap((id) => {
    const c = options.registry.certificate(id);
    return c ? [{ certificateId: id, status: c.status }] : [];
  });
  const decision = certificatesToRetire(event.statusDetails, attached);
  if ("refused" in decision) return { kind: "refused", reason: decision.refused };
  for (const id of decision.retire) options.registry.updateCertificateStatus(id, "INACTIVE");
  return { kind: "retired", thingName, certificateIds: decision.retire };
};

/** Listens for the SUCCEEDED events the broker's Jobs service publishes. */
export const startCertificateRetirement = (
  broker: LocalBroker,
  options: CertificateRetirementOptions,
): { readonly stop: () => void } => {
  const log = options.log ?? (() => {});
  const decode = Schema.decodeUnknownEither(Schema.parseJson(JobExecutionSucceeded));
  const onPublish = (packet: AedesPublishPacket, client: Client | null) => {
    // Only the service's own events (published inside the broker), never a client's.
    if (client !== null || !SUCCEEDED_EVENTS.test(packet.topic)) return;
    const event = decode(Buffer.from(packet.payload).toString("utf8"));
    if (event._tag === "Left") {
      log({ level: "warn", msg: "a jobs event could not be read", topic: packet.topic });
      return;
    }
    const outcome = retireReplacedCertificates(event.right, options);
    if (outcome.kind === "ignored") return;
    if (outcome.kind === "refused") {
      log({
        level: "warn",
        msg: "rotation reported, no certificate deactivated",
        job_id: event.right.jobId,
        reason: outcome.reason,
      });
      return;
    }
    log({
      level: "info",
      msg: "certificate rotation: old certificates deactivated",
      job_id: event.right.jobId,
      thing: outcome.thingName,
      certificate_ids: outcome.certificateIds,
    });
    options.onRetired?.(outcome.thingName, outcome.certificateIds);
  };
  broker.aedes.on("publish", onPublish);
  return { stop: () => broker.aedes.removeListener("publish", onPublish) };
};
