import {
  type DynamoStores,
  makeDynamoClient,
  makeDynamoStores,
  tableNamesFromEnv,
  tableSettingProblem,
} from "@medusa/adapters";
import { DAY_MS, topicTemplates, validateTemplate } from "@medusa/domain";
import { DEFAULT_CACHE_TTL_MS } from "./ingest/interval-cache.js";

export class ConfigurationError extends Error {
  override readonly name = "ConfigurationError";
}

/** Settings every handler reads from its environment; a bad value stops the container with its name. */
export interface LambdaConfig {
  readonly topicPrefix: string;
  readonly retentionMs: number;
  readonly cacheTtlMs: number;
  /** The ingest function's timeout: how long one ingest may run with the intervals it read. */
  readonly ingestTimeoutMs: number;
  /** Re-attribution's second pass runs this long after the first. */
  readonly settleMs: number;
}

const number = (
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  fallback: number,
  min: number,
): number => {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min)
    throw new ConfigurationError(`${name}=${raw}: must be a number ≥ ${min}`);
  return value;
};

export const configFromEnv = (env: Readonly<Record<string, string | undefined>>): LambdaConfig => {
  const cacheTtlMs = number(env, "MEDUSA_INTERVAL_CACHE_TTL_MS", DEFAULT_CACHE_TTL_MS, 0);
  const topicPrefix = env.MEDUSA_TOPIC_PREFIX || "medusa";
  const template = validateTemplate(topicTemplates(topicPrefix).sensorData);
  if (template)
    throw new ConfigurationError(`MEDUSA_TOPIC_PREFIX=${topicPrefix}: ${template.reason}`);
  const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB;
  if (endpoint && !(URL.canParse(endpoint) && /^https?:$/.test(new URL(endpoint).protocol)))
    throw new ConfigurationError(`AWS_ENDPOINT_URL_DYNAMODB=${endpoint}: must be an http(s) URL`);
  const tables = tableSettingProblem(env);
  if (tables) throw new ConfigurationError(tables);
  // Shorter than the cache TTL plus one ingest invocation, and a write from a cache loaded
  // before a commit could land after the second re-attribution pass: the correctness
  // argument in the README needs settle ≥ TTL + the ingest function's timeout.
  const ingestTimeoutMs = number(env, "MEDUSA_INGEST_TIMEOUT_MS", 15_000, 1);
  const settleMs = number(
    env,
    "MEDUSA_REATTRIBUTION_SETTLE_MS",
    cacheTtlMs + ingestTimeoutMs,
    cacheTtlMs + ingestTimeoutMs,
  );
  return {
    topicPrefix,
    retentionMs: number(env, "MEDUSA_RETENTION_DAYS", 30, 1) * DAY_MS,
    cacheTtlMs,
    ingestTimeoutMs,
    settleMs,
  };
};

export const sensorTopicTemplate = (config: LambdaConfig) =>
  topicTemplates(config.topicPrefix).sensorData;

/** DynamoDB stores from the standard SDK environment (`AWS_REGION`, `AWS_ENDPOINT_URL_DYNAMODB`) and the table variables. */
export const storesFromEnv = (env: Readonly<Record<string, string | undefined>>): DynamoStores =>
  makeDynamoStores({
    client: makeDynamoClient({
      ...(env.AWS_REGION ? { region: env.AWS_REGION } : {}),
      ...(env.AWS_ENDPOINT_URL_DYNAMODB ? { endpoint: env.AWS_ENDPOINT_URL_DYNAMODB } : {}),
    }),
    tables: tableNamesFromEnv(env),
  });
