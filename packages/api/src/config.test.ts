import { describe, expect, it } from "vitest";
import { ApiConfigError, apiConfigFromEnv } from "./config.js";

const secret = "a-secret-of-at-least-thirty-two-characters";

describe("API configuration from the environment", () => {
  it("has the documented defaults", () => {
    expect(apiConfigFromEnv({ MEDUSA_JWT_SECRET: secret, AWS_REGION: "eu-central-1" })).toEqual({
      port: 8080,
      host: "127.0.0.1",
      region: "eu-central-1",
      auth: { secret },
      maxTokenAgeS: 43_200,
      tokenUse: "id",
      tables: {
        events: "medusa-assignment-events",
        mapping: "medusa-device-patient-mapping",
        sensor: "medusa-sensor-data",
        deadLetters: "medusa-dead-letters",
        idempotency: "medusa-idempotency-keys",
        allowList: "medusa-device-allow-list",
        deviceStatuses: "medusa-device-statuses",
        alerts: "medusa-alerts",
        activity: "medusa-activity",
      },
    });
    expect(
      apiConfigFromEnv({
        PORT: "9000",
        HOST: "0.0.0.0",
        AWS_REGION: "local",
        MEDUSA_JWKS_URL:
          "https://cognito-idp.eu-central-1.amazonaws.com/pool/.well-known/jwks.json",
        MEDUSA_JWT_ISSUER: "https://cognito-idp.eu-central-1.amazonaws.com/pool",
        MEDUSA_JWT_AUDIENCE: "client",
        MEDUSA_TABLE_PREFIX: "dev-",
        MEDUSA_SENSOR_TABLE: "samples",
      }),
    ).toMatchObject({
      port: 9000,
      host: "0.0.0.0",
      auth: { jwksUrl: expect.stringContaining("jwks.json") },
      issuer: expect.stringContaining("pool"),
      audience: "client",
      tables: { events: "dev-medusa-assignment-events", sensor: "samples" },
    });
  });

  it.each([
    [{}, "MEDUSA_JWT_SECRET or MEDUSA_JWKS_URL"],
    [{ MEDUSA_JWT_SECRET: "short" }, "MEDUSA_JWT_SECRET"],
    [{ MEDUSA_JWT_SECRET: secret, MEDUSA_JWKS_URL: "https://x.example/jwks" }, "MEDUSA_JWT_SECRET"],
    [{ MEDUSA_JWKS_URL: "http://idp.example/jwks" }, "MEDUSA_JWKS_URL"],
    [{ MEDUSA_JWKS_URL: "not a url" }, "MEDUSA_JWKS_URL"],
    [{ MEDUSA_JWT_SECRET: secret, PORT: "http" }, "PORT"],
    [{ MEDUSA_JWT_SECRET: secret, PORT: "70000" }, "PORT"],
    [{ MEDUSA_JWT_SECRET: secret, PORT: "-1" }, "PORT"],
    [
      { MEDUSA_JWT_SECRET: secret, AWS_ENDPOINT_URL_DYNAMODB: "127.0.0.1:8000" },
      "AWS_ENDPOINT_URL_DYNAMODB",
    ],
    [{ MEDUSA_JWT_SECRET: secret, MEDUSA_TABLE_PREFIX: "dev prefix/" }, "MEDUSA_TABLE_PREFIX"],
    [{ MEDUSA_JWT_SECRET: secret, MEDUSA_EVENTS_TABLE: "e" }, "MEDUSA_EVENTS_TABLE"],
    [{ MEDUSA_JWT_SECRET: secret, AWS_REGION: undefined }, "AWS_REGION is required"],
    [{ MEDUSA_JWT_SECRET: secret, AWS_REGION: "not a region!" }, "AWS_REGION=not a region!"],
    // Keys from an identity provider: only its tokens for this application.
    [{ MEDUSA_JWKS_URL: "https://idp.example/jwks" }, "MEDUSA_JWT_ISSUER and MEDUSA_JWT_AUDIENCE"],
    [
      { MEDUSA_JWKS_URL: "https://idp.example/jwks", MEDUSA_JWT_ISSUER: "https://idp.example" },
      "MEDUSA_JWT_AUDIENCE",
    ],
    [{ MEDUSA_JWT_SECRET: secret, MEDUSA_JWT_MAX_AGE_S: "10" }, "MEDUSA_JWT_MAX_AGE_S"],
    [{ MEDUSA_JWT_SECRET: secret, MEDUSA_JWT_TOKEN_USE: "refresh" }, "MEDUSA_JWT_TOKEN_USE"],
  ])("a missing or bad setting stops start-up naming it: %o", (env, variable) => {
    const withRegion = { AWS_REGION: "eu-central-1", ...env };
    expect(() => apiConfigFromEnv(withRegion)).toThrow(ApiConfigError);
    expect(() => apiConfigFromEnv(withRegion)).toThrow(variable);
  });
});
