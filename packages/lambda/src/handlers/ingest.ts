import { dynamoStoresLayer } from "@medusa/adapters";
import { Effect } from "effect";
import { configFromEnv, sensorTopicTemplate, storesFromEnv } from "../config.js";
import { type IngestResult, makeIngest } from "../ingest/ingest.js";
import { IntervalCache } from "../ingest/interval-cache.js";

// Wired once per container: the interval cache lives as long as the container.
const config = configFromEnv(process.env);
const layer = dynamoStoresLayer(storesFromEnv(process.env));
const { ingest } = makeIngest({
  topicTemplate: sensorTopicTemplate(config),
  retentionMs: config.retentionMs,
  cache: new IntervalCache(config.cacheTtlMs),
});

/**
 * The IoT rule's target. Bad input → dead letter + 400 result (never throws);
 * a storage failure rejects, so the rule's error action sees it.
 */
export const handler = (event: unknown): Promise<IngestResult> =>
  Effect.runPromise(Effect.provide(ingest(event), layer));
