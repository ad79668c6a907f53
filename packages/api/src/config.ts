import { type TableNames, tableNamesFromEnv, tableSettingProblem } from "@medusa/adapters";

export class ApiConfigError extends Error {
  override readonly name = "ApiConfigError";
}

export interface ApiConfig {
  readonly port: number;
  readonly host: string;
  /** DynamoDB's region (any name, e.g. `local`, for DynamoDB Local). */
  readonly region: string;
  readonly auth: { readonly secret: string } | { readonly jwksUrl: string };
  readonly issuer?: string;
  readonly audience?: string;
  readonly tables: TableNames;
}

/** Reads the API's settings; a missing or bad one stops start-up with its name. */
export const apiConfigFromEnv = (env: Readonly<Record<string, string | undefined>>): ApiConfig => {
  const port = Number(env.PORT || "8080");
  if (!/^\d+$/.test(env.PORT || "8080") || port > 65535)
    throw new ApiConfigError(`PORT=${env.PORT}: must be a port number`);
  const secret = env.MEDUSA_JWT_SECRET;
  const jwksUrl = env.MEDUSA_JWKS_URL;
  if (secret && jwksUrl)
    throw new ApiConfigError("set MEDUSA_JWT_SECRET or MEDUSA_JWKS_URL, not both");
  if (!secret && !jwksUrl)
    throw new ApiConfigError(
      "MEDUSA_JWT_SECRET or MEDUSA_JWKS_URL is required (how bearer tokens are verified)",
    );
  if (secret !== undefined && secret.length < 32)
    throw new ApiConfigError("MEDUSA_JWT_SECRET: use at least 32 characters");
  if (jwksUrl !== undefined) {
    try {
      const url = new URL(jwksUrl);
      if (url.protocol !== "https:" && url.hostname !== "127.0.0.1" && url.hostname !== "localhost")
        throw new Error();
    } catch {
      throw new ApiConfigError(`MEDUSA_JWKS_URL=${jwksUrl}: must be an https URL`);
    }
  }
  const endpoint = env.AWS_ENDPOINT_URL_DYNAMODB;
  if (endpoint && !(URL.canParse(endpoint) && /^https?:$/.test(new URL(endpoint).protocol)))
    throw new ApiConfigError(`AWS_ENDPOINT_URL_DYNAMODB=${endpoint}: must be an http(s) URL`);
  const region = env.AWS_REGION;
  if (!region)
    throw new ApiConfigError(
      "AWS_REGION is required (DynamoDB's region, e.g. eu-central-1; any name, e.g. local, for DynamoDB Local)",
    );
  if (!/^[a-z][a-z0-9-]*[a-z0-9]$/.test(region))
    throw new ApiConfigError(`AWS_REGION=${region}: not a region name (e.g. eu-central-1)`);
  const tables = tableSettingProblem(env);
  if (tables) throw new ApiConfigError(tables);
  return {
    port,
    host: env.HOST ?? "127.0.0.1",
    region,
    auth: secret ? { secret } : { jwksUrl: jwksUrl as string },
    ...(env.MEDUSA_JWT_ISSUER ? { issuer: env.MEDUSA_JWT_ISSUER } : {}),
    ...(env.MEDUSA_JWT_AUDIENCE ? { audience: env.MEDUSA_JWT_AUDIENCE } : {}),
    tables: tableNamesFromEnv(env),
  };
};
