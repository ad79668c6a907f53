import { createSecretKey, type KeyObject } from "node:crypto";
import { type Actor, Actor as ActorSchema } from "@medusa/domain";
import { Schema } from "effect";
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";

export type Role = "clinician" | "viewer";

/** Who is calling: the actor recorded in events comes from here, never from a request body. */
export interface Principal {
  readonly email: Actor;
  readonly roles: ReadonlyArray<Role>;
}

/** The bearer token proves nothing: unsigned, expired, from another issuer, or naming no one. */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()("Unauthenticated", {
  reason: Schema.String,
}) {
  override get message(): string {
    return this.reason;
  }
}

/** Verifies a bearer token and returns who it names. */
export type Authenticate = (token: string) => Promise<Principal>;

export interface JwtAuthOptions {
  /** HS256 shared secret (development, or a gateway that signs with one). */
  readonly secret?: string;
  /** JWKS URL of an OIDC provider (Cognito: https://cognito-idp.{region}.amazonaws.com/{pool}/.well-known/jwks.json). */
  readonly jwksUrl?: string;
  /** Or a key set given directly (tests). */
  readonly keys?: JWTVerifyGetKey;
  readonly issuer?: string;
  readonly audience?: string;
  /**
   * The longest a token may live (`exp` − `iat`) and the oldest it may be
   * (now − `iat`); 12 hours unless set. A token without `exp` or `iat`, or
   * issued in the future, is refused.
   */
  readonly maxTokenAgeS?: number;
  /**
   * Cognito's token kinds (`token_use`): `id` (the default; `aud` is the app
   * client) or `access` (`client_id` is the app client, checked as the
   * audience). A token of the other kind is refused.
   */
  readonly tokenUse?: "id" | "access";
  /** The time now in seconds, for tests. */
  readonly now?: () => number;
}

export const DEFAULT_MAX_TOKEN_AGE_S = 12 * 3_600;
/** Clocks of the identity provider and the API may differ this much. */
const CLOCK_TOLERANCE_S = 60;

const isActor = Schema.is(ActorSchema);
const ROLES: ReadonlyArray<Role> = ["clinician", "viewer"];

/** Roles from a `roles` claim or Cognito's `cognito:groups`. */
export const rolesOf = (claims: JWTPayload): ReadonlyArray<Role> => {
  const raw = [claims.roles, claims["cognito:groups"]].flatMap((v) =>
    Array.isArray(v) ? v : typeof v === "string" ? v.split(/[ ,]+/) : [],
  );
  return ROLES.filter((r) => raw.includes(r));
};

/** JWT bearer tokens: HS256 with a secret, or RS256/ES256 keys from a JWKS URL. */
export const jwtAuth = (options: JwtAuthOptions): Authenticate => {
  const key =
    options.keys ?? (options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined);
  // A KeyObject made once: given raw bytes, jose imports the key again for every token.
  const secret = options.secret ? createSecretKey(Buffer.from(options.secret, "utf8")) : undefined;
  if (!key && !secret) throw new Error("jwtAuth needs a secret or a JWKS URL");
  const maxAge = options.maxTokenAgeS ?? DEFAULT_MAX_TOKEN_AGE_S;
  const tokenUse = options.tokenUse ?? "id";
  const verifyOptions = {
    ...(options.issuer ? { issuer: options.issuer } : {}),
    // An access token names its app client in `client_id`, not `aud` (checked below).
    ...(options.audience && tokenUse === "id" ? { audience: options.audience } : {}),
    requiredClaims: ["exp", "iat"],
    maxTokenAge: maxAge,
    clockTolerance: CLOCK_TOLERANCE_S,
  };
  return async (token) => {
    let claims: JWTPayload;
    try {
      const verify = {
        ...verifyOptions,
        ...(options.now ? { currentDate: new Date(options.now() * 1000) } : {}),
      };
      claims = key
        ? (await jwtVerify(token, key, { ...verify, algorithms: ["RS256", "ES256", "PS256"] }))
            .payload
        : (await jwtVerify(token, secret as KeyObject, { ...verify, algorithms: ["HS256"] }))
            .payload;
    } catch {
      // Why is for the operator's side, not the caller's: no hint what to forge next.
      throw new Unauthenticated({ reason: "invalid or expired token" });
    }
    // A token valid for years is a standing credential, whatever its `iat` says.
    if ((claims.exp as number) - (claims.iat as number) > maxAge + CLOCK_TOLERANCE_S)
      throw new Unauthenticated({ reason: "invalid or expired token" });
    if (claims.token_use !== undefined && claims.token_use !== tokenUse)
      throw new Unauthenticated({ reason: "invalid or expired token" });
    if (tokenUse === "access" && options.audience && claims.client_id !== options.audience)
      throw new Unauthenticated({ reason: "invalid or expired token" });
    const email = claims.email;
    if (typeof email !== "string" || !isActor(email))
      throw new Unauthenticated({ reason: "the token names no e-mail address" });
    return { email, roles: rolesOf(claims) };
  };
};
