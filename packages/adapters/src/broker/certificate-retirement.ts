import {
  DeviceNotRegistered,
  JobExecutionEvent,
  type RetirementOutcome,
  retireReplacedCertificates,
  ThingCertificates,
  type ThingCertificatesService,
} from "@medusa/domain";
import type { AedesPublishPacket, Client } from "aedes";
import { Effect, Schema } from "effect";
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
  ...JobExecutionEvent.fields,
  operation: Schema.Literal("succeeded"),
  status: Schema.Literal("SUCCEEDED"),
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

/**
 * The local broker's certificate registry as the `ThingCertificates` port:
 * the in-memory twin of AWS IoT's registry (`makeIotThingCertificates`); both
 * pass `thingCertificatesContract`.
 */
export const registryThingCertificates = (
  registry: CertificateRegistry,
): ThingCertificatesService => ({
  attached: (thing) =>
    Effect.suspend(() => {
      const record = registry.thing(thing);
      if (record === undefined) return Effect.fail(new DeviceNotRegistered({ deviceId: thing }));
      return Effect.succeed(
        record.principals.flatMap((id) => {
          const c = registry.certificate(id);
          return c ? [{ certificateId: id, status: c.status }] : [];
        }),
      );
    }),
  deactivate: (certificateId) =>
    Effect.sync(() => {
      registry.updateCertificateStatus(certificateId, "INACTIVE");
    }),
});

/** Handles one event with the domain's decision (`retireReplacedCertificates`), as the Lambda function does. */
export const retireOnRegistry = (
  event: JobExecutionEvent,
  options: CertificateRetirementOptions,
): Promise<RetirementOutcome> =>
  Effect.runPromise(
    retireReplacedCertificates(event, {
      isRotation: (jobId) => options.operationOf(jobId) === "certificate.rotate",
    }).pipe(
      Effect.provideService(ThingCertificates, registryThingCertificates(options.registry)),
      Effect.catchAll((e) =>
        Effect.succeed<RetirementOutcome>({ kind: "refused", reason: e.message }),
      ),
    ),
  );

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
    void retireOnRegistry(event.right, options).then((outcome) => report(event.right, outcome));
  };
  const report = (event: JobExecutionSucceeded, outcome: RetirementOutcome) => {
    if (outcome.kind === "ignored") return;
    if (outcome.kind === "refused") {
      log({
        level: "warn",
        msg: "rotation reported, no certificate deactivated",
        job_id: event.jobId,
        reason: outcome.reason,
      });
      return;
    }
    log({
      level: "info",
      msg: "certificate rotation: old certificates deactivated",
      job_id: event.jobId,
      thing: outcome.thingName,
      certificate_ids: outcome.certificateIds,
    });
    options.onRetired?.(outcome.thingName, outcome.certificateIds);
  };
  broker.aedes.on("publish", onPublish);
  return { stop: () => broker.aedes.removeListener("publish", onPublish) };
};
