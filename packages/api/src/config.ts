import {
  type DynamoSettings,
  dynamoSettingsFromEnv,
  HttpUrl,
  setting,
  type TableNames,
} from "@medusa/adapters";
import { Either, Schema } from "effect";

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
    const dynamo: DynamoSettings = yield* dynamoSettingsFromEnv(env, { requireRegion: true });
    return {
      port,
      host: env.HOST ?? "127.0.0.1",
      region: dynamo.region ?? "",
      ...(dynamo.endpoint !== undefined ? { endpoint: dynamo.endpoint } : {}),
      auth,
      ...(env.MEDUSA_JWT_ISSUER ? { issuer: env.MEDUSA_JWT_ISSUER } : {}),
      ...(env.MEDUSA_JWT_AUDIENCE ? { audience: env.MEDUSA_JWT_AUDIENCE } : {}),
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
