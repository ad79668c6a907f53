import {
  type DynamoSettings,
  dynamoSettingsFromEnv,
  HttpUrl,
  NumberAtLeast,
  setting,
  type TableNames,
} from "@medusa/adapters";
import { Either, Schema } from "effect";
import { DEFAULT_MAX_TOKEN_AGE_S, type JwtAuthOptions } from "./auth.js";
import { cursorKeyFrom } from "./cursor.js";

type Env = Readonly<Record<string, string | undefined>>;

/** A setting the API cannot start with; the message names it. */
export class ApiConfigError extends Schema.TaggedError<ApiConfigError>()("ApiConfigError", {
  problem: Schema.String,
}) {
  override get message(): string {
    return this.problem;
  }
}

export interface ApiConfig {
  readonly port: number;
  readonly host: string;
  /** DynamoDB's region (any name, e.g. `local`, for DynamoDB Local). */
  readonly region: string;
  /** An endpoint override (DynamoDB Local). */
  readonly endpoint?: string;
  readonly auth: { readonly secret: string } | { readonly jwksUrl: string };
  readonly issuer?: string;
  readonly audience?: string;
  /** How long a token may live, in seconds (`MEDUSA_JWT_MAX_AGE_S`, 12 hours). */
  readonly maxTokenAgeS: number;
  /** Which Cognito token the API takes (`MEDUSA_JWT_TOKEN_USE`: `id` or `access`). */
  readonly tokenUse: "id" | "access";
  /** Signs timeline cursors (`MEDUSA_CURSOR_SECRET`); derived from the JWT secret when absent. */
  readonly cursorSecret?: string;
  readonly tables: TableNames;
}

const Port = Schema.String.pipe(
  Schema.pattern(/^\d+$/, { message: () => "must be a port number" }),
  Schema.compose(Schema.NumberFromString),
  Schema.filter((n) => n <= 65535, { message: () => "must be a port number" }),
);

/** An https URL, or http on this machine (a local identity provider in tests). */
const JwksUrl = HttpUrl.pipe(
  Schema.filter(
    (s) => {
      const url = new URL(s);
      return (
        url.protocol === "https:" || url.hostname === "127.0.0.1" || url.hostname === "localhost"
      );
    },
    { message: () => "must be an https URL" },
  ),
);

const Secret = Schema.String.pipe(
  Schema.minLength(32, { message: () => "use at least 32 characters" }),
);

/** Reads the API's settings once; a missing or bad one stops start-up with its name. */
export const apiConfigFromEnv = (env: Env): ApiConfig => {
  const config = Either.gen(function* () {
    const port = yield* setting(env, "PORT", Port, 8080);
    const secret = env.MEDUSA_JWT_SECRET;
    const jwksUrl = env.MEDUSA_JWKS_URL;
    if (secret && jwksUrl) return yield* fail("set MEDUSA_JWT_SECRET or MEDUSA_JWKS_URL, not both");
    if (!secret && !jwksUrl)
      return yield* fail(
        "MEDUSA_JWT_SECRET or MEDUSA_JWKS_URL is required (how bearer tokens are verified)",
      );
    const auth = secret
      ? { secret: yield* setting(env, "MEDUSA_JWT_SECRET", Secret, secret) }
      : { jwksUrl: yield* setting(env, "MEDUSA_JWKS_URL", JwksUrl, "") };
    // Keys from a provider sign tokens for many applications: only its tokens for this one count.
    if (jwksUrl && !(env.MEDUSA_JWT_ISSUER && env.MEDUSA_JWT_AUDIENCE))
      return yield* fail(
        "MEDUSA_JWKS_URL needs MEDUSA_JWT_ISSUER and MEDUSA_JWT_AUDIENCE (the identity provider's issuer and this application's client id)",
      );
    const maxTokenAgeS = yield* setting(
      env,
      "MEDUSA_JWT_MAX_AGE_S",
      NumberAtLeast(60),
      DEFAULT_MAX_TOKEN_AGE_S,
    );
    const tokenUse = yield* setting(env, "MEDUSA_JWT_TOKEN_USE", TokenUse, "id" as const);
    const cursorSecret = yield* setting(env, "MEDUSA_CURSOR_SECRET", Secret, undefined);
    const dynamo: DynamoSettings = yield* dynamoSettingsFromEnv(env, { requireRegion: true });
    return {
      port,
      host: env.HOST ?? "127.0.0.1",
      region: dynamo.region ?? "",
      ...(dynamo.endpoint !== undefined ? { endpoint: dynamo.endpoint } : {}),
      auth,
      ...(env.MEDUSA_JWT_ISSUER ? { issuer: env.MEDUSA_JWT_ISSUER } : {}),
      ...(env.MEDUSA_JWT_AUDIENCE ? { audience: env.MEDUSA_JWT_AUDIENCE } : {}),
      maxTokenAgeS,
      tokenUse,
      ...(cursorSecret !== undefined ? { cursorSecret } : {}),
      tables: dynamo.tables,
    };
  });
  return Either.getOrThrowWith(
    Either.mapLeft(config, (e) =>
      e instanceof ApiConfigError ? e : new ApiConfigError({ problem: e.message }),
    ),
    (e) => e,
  );
};

const fail = (problem: string) => Either.left(new ApiConfigError({ problem }));

const TokenUse = Schema.String.pipe(
  Schema.filter((s): s is "id" | "access" => s === "id" || s === "access", {
    message: () => "must be id or access",
  }),
);

/**
 * The key timeline cursors are sealed with: `MEDUSA_CURSOR_SECRET`, else one
 * derived from the JWT secret; undefined (a key per process) when neither is
 * set, which only a single instance can use.
 */
export const withCursorKey = (config: ApiConfig): { cursorKey?: Uint8Array | string } => {
  const key =
    config.cursorSecret ??
    ("secret" in config.auth ? cursorKeyFrom(config.auth.secret) : undefined);
  return key === undefined ? {} : { cursorKey: key };
};

/** How the configured API checks bearer tokens. */
export const jwtOptions = (config: ApiConfig): JwtAuthOptions => ({
  ...config.auth,
  ...(config.issuer ? { issuer: config.issuer } : {}),
  ...(config.audience ? { audience: config.audience } : {}),
  maxTokenAgeS: config.maxTokenAgeS,
  tokenUse: config.tokenUse,
});
