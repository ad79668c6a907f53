import {
  GetSecretValueCommand,
  type GetSecretValueCommandOutput,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { ApiConfigError } from "./config.js";

type Env = Readonly<Record<string, string | undefined>>;

/** The one call `loadJwtSecret` makes; a `SecretsManagerClient` is one. */
export interface SecretReader {
  send(command: GetSecretValueCommand): Promise<GetSecretValueCommandOutput>;
}

const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:([a-z0-9-]+):\d{12}:secret:\S+$/;

/**
 * In AWS the API's secrets are not environment variables (anyone allowed to
 * read the function's configuration would read them): the deployment gives
 * `MEDUSA_JWT_SECRET_ARN` (the HS256 secret tokens are signed with) and
 * `MEDUSA_CURSOR_SECRET_ARN` (what timeline cursors are sealed with), and this
 * reads each secret's value with one `GetSecretValue` and hands
 * `apiConfigFromEnv` the environment it expects (`MEDUSA_JWT_SECRET`,
 * `MEDUSA_CURSOR_SECRET`). Call it once, at start-up. Without the ARNs the
 * environment comes back as is.
 */
export const loadSecrets = async (env: Env, client?: SecretReader): Promise<Env> => {
  let out = env;
  for (const name of ["MEDUSA_JWT_SECRET", "MEDUSA_CURSOR_SECRET"] as const)
    out = await loadSecret(out, name, client);
  return out;
};

/** `loadSecrets` for the JWT secret alone. */
export const loadJwtSecret = (env: Env, client?: SecretReader): Promise<Env> =>
  loadSecret(env, "MEDUSA_JWT_SECRET", client);

const loadSecret = async (env: Env, name: string, client?: SecretReader): Promise<Env> => {
  const arn = env[`${name}_ARN`];
  if (!arn) return env;
  const fail = (problem: string) =>
    new ApiConfigError({ problem: `${name}_ARN=${arn}: ${problem}` });
  if (env[name]) throw fail(`set ${name}_ARN or ${name}, not both`);
  // The secret's own region, whatever AWS_REGION says.
  const region = SECRET_ARN.exec(arn)?.[1];
  if (!region) throw fail("not a Secrets Manager secret ARN");
  const reader = client ?? new SecretsManagerClient({ region });
  let value: string | undefined;
  try {
    value = (await reader.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString;
  } catch (error) {
    // The SDK's name and message (not found, access denied, …) say which; they never hold the value.
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw fail(`the secret could not be read (${why})`);
  }
  if (!value) throw fail("the secret has no string value");
  return { ...env, [name]: value };
};
