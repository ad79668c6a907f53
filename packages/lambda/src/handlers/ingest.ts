import { dynamoLayer, SampleTimesSeen } from "@medusa/adapters";
import {
  type IngestSettings,
  ingestMessages,
  messageFromRuleEvent,
  recordSampleTimes,
} from "@medusa/domain";
import { Effect, type Layer, ManagedRuntime } from "effect";
import { type LambdaConfig, sensorTopicTemplate, settingsFromEnv } from "../config.js";
import { runOrReject, type Services, servicesLayer } from "../services.js";
import { type IngestResult, renderIngestOutcome } from "./render.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The IoT rule's target, running the ingest with `layer` (built on first use
 * and kept for the container's life, its interval cache with it). Bad input →
 * dead letter + 400 result (never throws); a storage failure rejects with the
 * typed error, so Lambda retries the invocation and then its on-failure
 * destination keeps it.
 */
export const ingestHandler = (config: LambdaConfig, layer: Layer.Layer<Services>) => {
  const runtime = ManagedRuntime.make(layer);
  const settings: IngestSettings = {
    topicTemplate: sensorTopicTemplate(config),
    retentionMs: config.retentionMs,
    ...(config.limits ? { limits: config.limits } : {}),
    source: "iot-rule",
  };
  // The devices' newest sample times this container recorded: a status row is read and
  // written at most once a minute a device (`recordSampleTimes`), for the fleet view.
  const seen = new SampleTimesSeen();
  return (event: unknown): Promise<IngestResult> =>
    runOrReject(
      runtime,
      // One message in, one outcome out.
      ingestMessages([messageFromRuleEvent(event)], settings).pipe(
        Effect.tap((outcomes) => recordSampleTimes(outcomes, seen)),
        Effect.map(([outcome]) => renderIngestOutcome(outcome!)),
      ),
    );
};

/** The ingest handler on DynamoDB as the environment says (`settingsFromEnv`). */
export const makeIngestHandler = (env: Env) => {
  const { config, dynamo } = settingsFromEnv(env);
  return ingestHandler(
    config,
    servicesLayer(dynamoLayer(dynamo), { cacheTtlMs: config.cacheTtlMs }),
  );
};

// Wired once per container, on first use.
let wired: ReturnType<typeof makeIngestHandler> | undefined;
export const handler = (event: unknown): Promise<IngestResult> => {
  wired ??= makeIngestHandler(process.env);
  return wired(event);
};
