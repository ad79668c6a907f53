import { describe, expect, it } from "vitest";
import { ConfigurationError, configFromEnv, sensorTopicTemplate } from "./config.js";

describe("configuration from the environment", () => {
  it("has the documented defaults", () => {
    const config = configFromEnv({});
    expect(config).toEqual({
      topicPrefix: "medusa",
      retentionMs: 30 * 86_400_000,
      cacheTtlMs: 30_000,
      ingestTimeoutMs: 15_000,
      settleMs: 45_000,
    });
    expect(sensorTopicTemplate(config)).toBe("medusa/{device_id}/sensor/data");
    expect(
      configFromEnv({
        MEDUSA_TOPIC_PREFIX: "clinic-a",
        MEDUSA_RETENTION_DAYS: "7",
        MEDUSA_INTERVAL_CACHE_TTL_MS: "10000",
      }),
    ).toEqual({
      topicPrefix: "clinic-a",
      retentionMs: 7 * 86_400_000,
      cacheTtlMs: 10_000,
      ingestTimeoutMs: 15_000,
      settleMs: 25_000,
    });
  });

  it("narrows what one message may claim (MEDUSA_MAX_SAMPLE_AGE_DAYS, _LEAD_S, MEDUSA_MAX_BATCH_SPAN_S, MEDUSA_MAX_MESSAGE_ITEMS)", () => {
    expect(
      configFromEnv({
        MEDUSA_MAX_SAMPLE_AGE_DAYS: "7",
        MEDUSA_MAX_SAMPLE_LEAD_S: "60",
        MEDUSA_MAX_BATCH_SPAN_S: "600",
        MEDUSA_MAX_MESSAGE_ITEMS: "16",
      }).limits,
    ).toEqual({ maxAgeMs: 7 * 86_400_000, maxLeadMs: 60_000, maxSpanMs: 600_000, maxSegments: 16 });
  });

  it.each([
    [{ MEDUSA_MAX_SAMPLE_LEAD_S: "soon" }, "MEDUSA_MAX_SAMPLE_LEAD_S"],
    [{ MEDUSA_MAX_MESSAGE_ITEMS: "0" }, "MEDUSA_MAX_MESSAGE_ITEMS"],
    [{ MEDUSA_RETENTION_DAYS: "thirty" }, "MEDUSA_RETENTION_DAYS"],
    [{ MEDUSA_RETENTION_DAYS: "0" }, "MEDUSA_RETENTION_DAYS"],
    [{ MEDUSA_INTERVAL_CACHE_TTL_MS: "-1" }, "MEDUSA_INTERVAL_CACHE_TTL_MS"],
    [{ MEDUSA_REATTRIBUTION_SETTLE_MS: "1000" }, "MEDUSA_REATTRIBUTION_SETTLE_MS"],
    // The cache TTL alone is not enough: one ingest may still be running with old intervals.
    [{ MEDUSA_REATTRIBUTION_SETTLE_MS: "30000" }, "MEDUSA_REATTRIBUTION_SETTLE_MS"],
    [
      { MEDUSA_INGEST_TIMEOUT_MS: "60000", MEDUSA_REATTRIBUTION_SETTLE_MS: "45000" },
      "MEDUSA_REATTRIBUTION_SETTLE_MS",
    ],
    [{ MEDUSA_INGEST_TIMEOUT_MS: "0" }, "MEDUSA_INGEST_TIMEOUT_MS"],
    [{ MEDUSA_TOPIC_PREFIX: "medusa/#" }, "MEDUSA_TOPIC_PREFIX"],
    [{ MEDUSA_TOPIC_PREFIX: "a//b" }, "MEDUSA_TOPIC_PREFIX"],
    [{ AWS_ENDPOINT_URL_DYNAMODB: "localhost:8000 " }, "AWS_ENDPOINT_URL_DYNAMODB"],
    [{ MEDUSA_TABLE_PREFIX: "bad prefix " }, "MEDUSA_TABLE_PREFIX"],
    [{ MEDUSA_SENSOR_TABLE: "x" }, "MEDUSA_SENSOR_TABLE"],
  ])("a bad setting stops start-up naming the variable: %o", (env, variable) => {
    expect(() => configFromEnv(env)).toThrow(ConfigurationError);
    expect(() => configFromEnv(env)).toThrow(new RegExp(`^${variable}=`));
  });
});
