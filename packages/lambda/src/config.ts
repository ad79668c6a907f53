import {
  DEFAULT_CACHE_TTL_MS,
  type DynamoSettings,
  dynamoSettingsFromEnv,
  NumberAtLeast,
  SettingError,
  setting,
} from "@medusa/adapters";
import { DAY_MS, type IngestLimits, topicTemplates, validateTemplate } from "@medusa/domain";
import { Either, Schema } from "effect";

type Env = Readonly<Record<string, string | undefined>>;

/** A setting a handler cannot start with: `NAME=value: why`. */
export { SettingError as ConfigurationError };

/** Settings every handler reads from its environment; a bad value stops the container with its name. */
export interface LambdaConfig {
  readonly topicPrefix: string;
  readonly retentionMs: number;
  readonly cacheTtlMs: number;
  /** The ingest function's timeout: how long one ingest may run with the intervals it read. */
  readonly ingestTimeoutMs: number;
  /** Re-attribution's second pass runs this long after the first. */
  readonly settleMs: number;
  /** What one message may claim, where the environment narrows the defaults (`ingestLimits`). */
  readonly limits?: Partial<IngestLimits>;
}

/** What a handler starts with: its settings and where DynamoDB is. */
export interface HandlerSettings {
  readonly config: LambdaConfig;
  readonly dynamo: DynamoSettings;
}

/** A topic prefix that makes a valid sensor-data topic template. */
const TopicPrefix = Schema.String.pipe(
  Schema.filter((prefix) => validateTemplate(topicTemplates(prefix).sensorData)?.reason ?? true),
);

/** Reads the whole environment once; the first bad setting stops start-up, naming its variable. */
export const settingsFromEnv = (env: Env): HandlerSettings =>
  Either.getOrThrowWith(
    Either.gen(function* () {
      const cacheTtlMs = yield* setting(
        env,
        "MEDUSA_INTERVAL_CACHE_TTL_MS",
        NumberAtLeast(0),
        DEFAULT_CACHE_TTL_MS,
      );
      const topicPrefix = yield* setting(env, "MEDUSA_TOPIC_PREFIX", TopicPrefix, "medusa");
      const dynamo = yield* dynamoSettingsFromEnv(env, { requireRegion: false });
      // Shorter than the cache TTL plus one ingest invocation, and a write from a cache loaded
      // before a commit could land after the second re-attribution pass: the correctness
      // argument in the README needs settle ≥ TTL + the ingest function's timeout.
      const ingestTimeoutMs = yield* setting(
        env,
        "MEDUSA_INGEST_TIMEOUT_MS",
        NumberAtLeast(1),
        15_000,
      );
      const settleMs = yield* setting(
        env,
        "MEDUSA_REATTRIBUTION_SETTLE_MS",
        NumberAtLeast(cacheTtlMs + ingestTimeoutMs),
        cacheTtlMs + ingestTimeoutMs,
      );
      const retentionDays = yield* setting(env, "MEDUSA_RETENTION_DAYS", NumberAtLeast(1), 30);
      const maxAgeDays = yield* setting(
        env,
        "MEDUSA_MAX_SAMPLE_AGE_DAYS",
        NumberAtLeast(0),
        undefined,
      );
      const maxLeadS = yield* setting(env, "MEDUSA_MAX_SAMPLE_LEAD_S", NumberAtLeast(0), undefined);
      const maxSpanS = yield* setting(env, "MEDUSA_MAX_BATCH_SPAN_S", NumberAtLeast(1), undefined);
      const maxItems = yield* setting(env, "MEDUSA_MAX_MESSAGE_ITEMS", NumberAtLeast(1), undefined);
      const limits: Partial<IngestLimits> = {
        ...(maxAgeDays !== undefined ? { maxAgeMs: maxAgeDays * DAY_MS } : {}),
        ...(maxLeadS !== undefined ? { maxLeadMs: maxLeadS * 1000 } : {}),
        ...(maxSpanS !== undefined ? { maxSpanMs: maxSpanS * 1000 } : {}),
        ...(maxItems !== undefined ? { maxSegments: maxItems } : {}),
      };
      const config: LambdaConfig = {
        topicPrefix,
        retentionMs: retentionDays * DAY_MS,
        cacheTtlMs,
        ingestTimeoutMs,
        settleMs,
        ...(Object.keys(limits).length > 0 ? { limits } : {}),
      };
      return { config, dynamo };
    }),
    (e) => e,
  );

/** The handlers' settings from the environment (`settingsFromEnv` without DynamoDB's). */
export const configFromEnv = (env: Env): LambdaConfig => settingsFromEnv(env).config;

export const sensorTopicTemplate = (config: LambdaConfig) =>
  topicTemplates(config.topicPrefix).sensorData;
