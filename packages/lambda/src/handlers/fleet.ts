import { SNSClient } from "@aws-sdk/client-sns";
import { dynamoLayer, makeSnsAlertNotifier, settingOrThrow } from "@medusa/adapters";
import {
  AlertNotifier,
  type AlertNotifierService,
  DEFAULT_GAP_MS,
  DeviceId,
  detectDataGaps,
  type GapDetectorReport,
  type PresenceOutcome,
  presenceMessageFromRuleEvent,
  recordPresence,
  recordReportedState,
} from "@medusa/domain";
import { Effect, Layer, ManagedRuntime, Schema } from "effect";
import { settingsFromEnv } from "../config.js";
import { runOrReject, type Services, servicesLayer } from "../services.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * What the shadow rule selects (`SELECT current.state.reported AS reported,
 * current.version AS shadow_version, topic(3) AS thing_name FROM
 * '$aws/things/+/shadow/update/documents'`).
 */
const ShadowRuleEvent = Schema.Struct({
  thing_name: DeviceId,
  shadow_version: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  reported: Schema.optional(Schema.Unknown),
});
const isShadowRuleEvent = (event: unknown): boolean =>
  typeof event === "object" && event !== null && "shadow_version" in event;

/**
 * The device-status function, behind two rules. The presence rule (`SELECT *,
 * topic() AS topic FROM '$aws/events/presence/+/+'`): the lifecycle event into
 * the device's status; an event that is not a device's is kept as a dead
 * letter. The shadow rule (`ShadowRuleEvent`): the reported state's summary
 * into the status. A storage failure fails the invocation, so IoT's Lambda
 * action (asynchronous) retries it.
 */
export const presenceHandler = (layer: Layer.Layer<Services>) => {
  const runtime = ManagedRuntime.make(layer);
  return (event: unknown): Promise<PresenceOutcome> =>
    runOrReject(
      runtime,
      isShadowRuleEvent(event)
        ? Effect.gen(function* () {
            const decoded = Schema.decodeUnknownEither(ShadowRuleEvent)(event);
            if (decoded._tag === "Left")
              return {
                _tag: "Rejected" as const,
                reason: `not a shadow document the rule selects: ${decoded.left.message}`,
              };
            const e = decoded.right;
            const changed = yield* recordReportedState(e.thing_name, e.shadow_version, e.reported);
            return {
              _tag: "Recorded" as const,
              deviceId: e.thing_name,
              changed: changed === "changed",
            };
          })
        : recordPresence(presenceMessageFromRuleEvent(event), { source: "iot-rule" }),
    );
};

/** The scheduled gap detector (EventBridge): one pass, its gaps announced on the alert topic. */
export const gapDetectorHandler = (
  layer: Layer.Layer<Services>,
  notifier: AlertNotifierService,
  options: { readonly gapMs: number },
) => {
  const runtime = ManagedRuntime.make(Layer.merge(layer, Layer.succeed(AlertNotifier, notifier)));
  return async (): Promise<Omit<GapDetectorReport, "notDelivered"> & { notDelivered: number }> => {
    const report = await runOrReject(runtime, detectDataGaps({ gapMs: options.gapMs }));
    for (const e of report.notDelivered)
      console.error(
        JSON.stringify({
          level: "error",
          msg: "alert not delivered",
          alert_id: e.alertId,
          reason: e.reason,
        }),
      );
    return { ...report, notDelivered: report.notDelivered.length };
  };
};

const GapMinutes = Schema.NumberFromString.pipe(
  Schema.compose(Schema.Number.pipe(Schema.positive(), Schema.lessThanOrEqualTo(7 * 24 * 60))),
);

/** `MEDUSA_GAP_MINUTES` (10 when absent) and `MEDUSA_ALERT_TOPIC_ARN` (required). */
export const gapSettingsFromEnv = (env: Env) => {
  const minutes = settingOrThrow(env, "MEDUSA_GAP_MINUTES", GapMinutes, DEFAULT_GAP_MS / 60_000);
  const topicArn = env.MEDUSA_ALERT_TOPIC_ARN;
  if (!topicArn)
    throw new Error("MEDUSA_ALERT_TOPIC_ARN is required: the SNS topic gaps are announced on");
  return { gapMs: minutes * 60_000, topicArn };
};

export const makePresenceHandler = (env: Env) => {
  const { config, dynamo } = settingsFromEnv(env);
  return presenceHandler(servicesLayer(dynamoLayer(dynamo), { cacheTtlMs: config.cacheTtlMs }));
};

export const makeGapDetectorHandler = (env: Env) => {
  const { config, dynamo } = settingsFromEnv(env);
  const gap = gapSettingsFromEnv(env);
  return gapDetectorHandler(
    servicesLayer(dynamoLayer(dynamo), { cacheTtlMs: config.cacheTtlMs }),
    makeSnsAlertNotifier({ client: new SNSClient({}), topicArn: gap.topicArn }),
    { gapMs: gap.gapMs },
  );
};
