import { dynamoStoresLayer } from "@medusa/adapters";
import { Effect, Either } from "effect";
import { configFromEnv, sensorTopicTemplate, storesFromEnv } from "../config.js";
import { type IngestResult, makeIngest } from "../ingest/ingest.js";
import { IntervalCache } from "../ingest/interval-cache.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The IoT rule's target. Bad input → dead letter + 400 result (never throws);
 * a storage failure rejects, so the rule's error action sees it.
 */
export const makeIngestHandler = (env: Env) => {
  const config = configFromEnv(env);
  const layer = dynamoStoresLayer(storesFromEnv(env));
  const { ingest } = makeIngest({
    topicTemplate: sensorTopicTemplate(config),
    retentionMs: config.retentionMs,
    cache: new IntervalCache(config.cacheTtlMs),
  });
  // A storage failure rejects with the typed error itself (its tag, store and
  // reason are what the rule's error action logs), not Effect's wrapper.
  return (event: unknown): Promise<IngestResult> =>
    Effect.runPromise(Effect.either(Effect.provide(ingest(event), layer))).then((r) => {
      if (Either.isLeft(r)) throw r.left;
      return r.right;
    });
};

// Wired once per container, on first use: the interval cache lives as long as the container.
let wired: ReturnType<typeof makeIngestHandler> | undefined;
export const handler = (event: unknown): Promise<IngestResult> => {
  wired ??= makeIngestHandler(process.env);
  return wired(event);
};
