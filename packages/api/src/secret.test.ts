import {
  type GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  ResourceNotFoundException,
} from "@aws-sdk/client-secrets-manager";
import { describe, expect, it } from "vitest";
import { ApiConfigError } from "./config.js";
import { loadJwtSecret, loadSecrets, type SecretReader } from "./secret.js";

const ARN = "arn:aws:secretsmanager:eu-central-1:123456789012:secret:medusa/prod/jwt-AbCdEf";
const VALUE = "a-generated-secret-of-sixty-four-characters-0123456789abcdefghij";

/** Secrets Manager as far as `loadJwtSecret` sees it: answers, and writes down what it was asked. */
const fakeSecretsManager = (answer: () => Promise<Partial<GetSecretValueCommandOutput>>) => {
  const asked: Array<GetSecretValueCommand["input"]> = [];
  const client: SecretReader = {
    send: async (command) => {
      asked.push(command.input);
      return { $metadata: {}, ...(await answer()) };
    },
  };
  return { client, asked };
};

describe("loadJwtSecret", () => {
  it("without MEDUSA_JWT_SECRET_ARN returns the environment as it is, asking nobody", async () => {
    const { client, asked } = fakeSecretsManager(async () => ({ SecretString: VALUE }));
    const env = { MEDUSA_JWKS_URL: "https://idp.example/jwks.json", AWS_REGION: "eu-central-1" };
    expect(await loadJwtSecret(env, client)).toBe(env);
    expect(asked).toEqual([]);
  });

  it("reads the secret once, by its ARN, into MEDUSA_JWT_SECRET", async () => {
    const { client, asked } = fakeSecretsManager(async () => ({ SecretString: VALUE }));
    const env = { MEDUSA_JWT_SECRET_ARN: ARN, AWS_REGION: "eu-central-1" };
    expect(await loadJwtSecret(env, client)).toEqual({
      MEDUSA_JWT_SECRET_ARN: ARN,
      AWS_REGION: "eu-central-1",
      MEDUSA_JWT_SECRET: VALUE,
    });
    expect(asked).toEqual([{ SecretId: ARN }]);
    expect(env).not.toHaveProperty("MEDUSA_JWT_SECRET");
  });

  it.each([
    ["an empty secret", async () => ({ SecretString: "" }), /has no string value/],
    ["a binary secret", async () => ({ SecretBinary: new Uint8Array([1]) }), /has no string value/],
    [
      "a secret that is not there",
      async () => {
        throw new ResourceNotFoundException({
          message: "Secrets Manager can't find the specified secret.",
          $metadata: {},
        });
      },
      /could not be read \(ResourceNotFoundException: Secrets Manager can't find/,
    ],
  ])("refuses %s with an ApiConfigError naming the ARN", async (_, answer, why) => {
    const { client } = fakeSecretsManager(answer);
    const loading = loadJwtSecret({ MEDUSA_JWT_SECRET_ARN: ARN }, client);
    await expect(loading).rejects.toBeInstanceOf(ApiConfigError);
    await expect(loading).rejects.toThrow(`MEDUSA_JWT_SECRET_ARN=${ARN}: `);
    await expect(loading).rejects.toThrow(why);
  });

  it("refuses a value that is not a secret ARN, and a plain secret beside the ARN, before asking", async () => {
    const { client, asked } = fakeSecretsManager(async () => ({ SecretString: VALUE }));
    await expect(
      loadJwtSecret({ MEDUSA_JWT_SECRET_ARN: "medusa/prod/jwt" }, client),
    ).rejects.toThrow("MEDUSA_JWT_SECRET_ARN=medusa/prod/jwt: not a Secrets Manager secret ARN");
    await expect(
      loadJwtSecret({ MEDUSA_JWT_SECRET_ARN: ARN, MEDUSA_JWT_SECRET: VALUE }, client),
    ).rejects.toThrow("set MEDUSA_JWT_SECRET_ARN or MEDUSA_JWT_SECRET, not both");
    expect(asked).toEqual([]);
  });
});

describe("loadSecrets", () => {
  it("reads the JWT secret and the cursor key, each by its ARN", async () => {
    const CURSOR = ARN.replace("jwt", "cursor");
    const { client, asked } = fakeSecretsManager(async () => ({ SecretString: VALUE }));
    const env = await loadSecrets(
      { MEDUSA_JWT_SECRET_ARN: ARN, MEDUSA_CURSOR_SECRET_ARN: CURSOR, AWS_REGION: "eu-central-1" },
      client,
    );
    expect([env.MEDUSA_JWT_SECRET, env.MEDUSA_CURSOR_SECRET]).toEqual([VALUE, VALUE]);
    expect(asked).toEqual([{ SecretId: ARN }, { SecretId: CURSOR }]);
    await expect(
      loadSecrets({ MEDUSA_CURSOR_SECRET_ARN: CURSOR, MEDUSA_CURSOR_SECRET: "x" }, client),
    ).rejects.toThrow(/^MEDUSA_CURSOR_SECRET_ARN=/);
  });
});
