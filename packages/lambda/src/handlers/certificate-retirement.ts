import {
  connectIotThingCertificates,
  dynamoLayer,
  dynamoSettingsFromEnv,
  systemClock,
} from "@medusa/adapters";
import {
  Clock,
  DeadLetters,
  JobExecutionEvent,
  type RetirementOutcome,
  retireReplacedCertificates,
  ThingCertificates,
  type ThingCertificatesService,
} from "@medusa/domain";
import { Effect, Either, Layer, ManagedRuntime, ParseResult, Schema } from "effect";
import { runOrReject } from "../services.js";

type Env = Readonly<Record<string, string | undefined>>;

/** What one invocation did: the retirement's outcome, or the event kept as a dead letter. */
export type RetirementResult =
  | RetirementOutcome
  | { readonly kind: "dead-lettered"; readonly reason: string };

const decode = Schema.decodeUnknownEither(JobExecutionEvent);

/**
 * The certificate retirement function, behind the IoT rule
 * `SELECT * FROM '$aws/events/jobExecution/+/succeeded'`: for a
 * `certificate.rotate` execution (its job id, `<prefix>certificate-rotate-…`),
 * the thing's other ACTIVE certificates become INACTIVE, only when the
 * certificate the device reported is attached and ACTIVE
 * (`retireReplacedCertificates`, the local stack's decision too). An event it
 * cannot read is kept in the dead-letter table with the reason; a registry
 * that does not answer fails the invocation, so IoT's Lambda action
 * (asynchronous) retries it (deactivating twice is harmless).
 */
export const certificateRetirementHandler = (
  layer: Layer.Layer<ThingCertificates | DeadLetters | Clock>,
  options: { readonly jobIdPrefix?: string },
  log: (line: string) => void = (l) => console.log(l),
) => {
  const runtime = ManagedRuntime.make(layer);
  return (event: unknown): Promise<RetirementResult> =>
    runOrReject(
      runtime,
      Effect.gen(function* () {
        const decoded = decode(event, { onExcessProperty: "ignore", errors: "all" });
        if (Either.isLeft(decoded)) {
          const reason = "not a job execution event of AWS IoT Jobs";
          const clock = yield* Clock;
          yield* (yield* DeadLetters).put({
            receivedAt: yield* clock.now,
            source: "iot-rule",
            topic: null,
            clientId: null,
            payload: JSON.stringify(event) ?? String(event),
            payloadEncoding: "utf8",
            reason,
            issues: ParseResult.ArrayFormatter.formatErrorSync(decoded.left).map((i) => ({
              path: i.path.join("."),
              message: i.message,
            })),
          });
          log(JSON.stringify({ level: "warn", msg: "job event dead-lettered", reason }));
          return { kind: "dead-lettered" as const, reason };
        }
        const outcome = yield* retireReplacedCertificates(decoded.right, options);
        const e = decoded.right;
        if (outcome.kind === "retired")
          log(
            JSON.stringify({
              level: "info",
              msg: "certificate rotation: old certificates deactivated",
              job_id: e.jobId,
              thing: outcome.thingName,
              certificate_ids: outcome.certificateIds,
            }),
          );
        else if (outcome.kind === "refused")
          log(
            JSON.stringify({
              level: "warn",
              msg: "rotation reported, no certificate deactivated",
              job_id: e.jobId,
              reason: outcome.reason,
            }),
          );
        return outcome;
      }),
    );
};

/** The function on AWS IoT's registry and the dead-letter table the environment names. */
export const makeCertificateRetirementHandler = (
  env: Env,
  certificates: ThingCertificatesService = connectIotThingCertificates({
    region: env.AWS_REGION ?? "",
  }),
) => {
  const settings = dynamoSettingsFromEnv(env, { requireRegion: true });
  if (Either.isLeft(settings)) throw settings.left;
  return certificateRetirementHandler(
    Layer.mergeAll(
      dynamoLayer(settings.right),
      systemClock,
      Layer.succeed(ThingCertificates, certificates),
    ),
    env.MEDUSA_JOB_ID_PREFIX ? { jobIdPrefix: env.MEDUSA_JOB_ID_PREFIX } : {},
  );
};

let wired: ReturnType<typeof makeCertificateRetirementHandler> | undefined;
export const handler = (event: unknown) => {
  wired ??= makeCertificateRetirementHandler(process.env);
  return wired(event);
};
