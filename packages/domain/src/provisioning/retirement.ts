import { Effect, Either, Schema } from "effect";
import { DeviceId } from "../ids.js";
import { DeviceNotRegistered, deviceJobTypeOf } from "../ports/device-jobs.js";
import {
  ThingCertificates,
  type ThingCertificatesUnavailable,
} from "../ports/thing-certificates.js";
import { certificatesToRetire } from "./rotation.js";

/**
 * The Jobs event of an execution that reached a terminal status
 * (`$aws/events/jobExecution/{jobId}/{succeeded|failed|…}`,
 * https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html),
 * published only while the account's event configuration enables
 * `JOB_EXECUTION`. `statusDetails` is what the device reported.
 */
export const JobExecutionEvent = Schema.Struct({
  eventType: Schema.Literal("JOB_EXECUTION"),
  operation: Schema.String,
  jobId: Schema.String,
  thingArn: Schema.String,
  status: Schema.String,
  statusDetails: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), {
    exact: true,
  }),
});
export type JobExecutionEvent = typeof JobExecutionEvent.Type;

/** The thing an ARN names (`arn:…:iot:<region>:<account>:thing/<name>`), if it is a thing's. */
export const thingOfArn = (arn: string): DeviceId | undefined => {
  const name = /^arn:[^:]+:iot:[^:]*:[^:]*:thing\/([^/]+)$/.exec(arn)?.[1];
  return name !== undefined && Schema.is(DeviceId)(name) ? name : undefined;
};

/** Whether a job id is a `certificate.rotate` job of this deployment (`<prefix>certificate-rotate-…`). */
export const isRotationJob = (jobId: string, jobIdPrefix = ""): boolean =>
  jobId.startsWith(jobIdPrefix) &&
  deviceJobTypeOf(jobId.slice(jobIdPrefix.length)) === "certificate.rotate";

/** What one execution event did: the certificates deactivated, or why none. */
export type RetirementOutcome =
  | { readonly kind: "ignored"; readonly reason: string }
  | { readonly kind: "refused"; readonly reason: string }
  | {
      readonly kind: "retired";
      readonly thingName: DeviceId;
      readonly certificateIds: ReadonlyArray<string>;
    };

/**
 * The cloud half of a certificate rotation, in AWS (the rule's function) and
 * in the local stack alike: when a `certificate.rotate` execution SUCCEEDED,
 * read the thing's certificates and deactivate exactly `certificatesToRetire`
 * (every other ACTIVE one, only if the certificate the device reported is
 * attached and ACTIVE). Another job's event, or another status, changes
 * nothing. A registry that does not answer fails the effect (the caller
 * retries); deactivating is idempotent, so a retry is safe.
 */
export const retireReplacedCertificates = (
  event: JobExecutionEvent,
  options: {
    /** The deployment's job id prefix (`MEDUSA_JOB_ID_PREFIX`): rotation jobs are `<prefix>certificate-rotate-…`. */
    readonly jobIdPrefix?: string;
    /** Instead of the id: whether the job is a `certificate.rotate` one (the local stack reads its document). */
    readonly isRotation?: (jobId: string) => boolean;
  } = {},
): Effect.Effect<RetirementOutcome, ThingCertificatesUnavailable, ThingCertificates> =>
  Effect.gen(function* () {
    const rotation = options.isRotation ?? ((id) => isRotationJob(id, options.jobIdPrefix));
    if (!rotation(event.jobId))
      return { kind: "ignored", reason: `job ${event.jobId} is not a certificate.rotate job` };
    if (event.status !== "SUCCEEDED")
      return { kind: "ignored", reason: `the execution is ${event.status}, not SUCCEEDED` };
    const thing = thingOfArn(event.thingArn);
    if (thing === undefined)
      return { kind: "refused", reason: `${event.thingArn} is not a thing's ARN` };
    const registry = yield* ThingCertificates;
    const attached = yield* registry.attached(thing).pipe(Effect.either);
    if (Either.isLeft(attached)) {
      if (attached.left instanceof DeviceNotRegistered)
        return { kind: "refused", reason: `thing ${thing} is not registered` };
      return yield* Effect.fail(attached.left);
    }
    const decision = certificatesToRetire(event.statusDetails, attached.right);
    if ("refused" in decision) return { kind: "refused", reason: decision.refused };
    for (const id of decision.retire) yield* registry.deactivate(id);
    return { kind: "retired", thingName: thing, certificateIds: decision.retire };
  });
