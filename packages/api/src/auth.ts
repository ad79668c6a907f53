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
}

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
  const verifyOptions = {
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
  };
  return async (token) => {
    let claims: JWTPayload;
    try {
      claims = key
        ? (
            await jwtVerify(token, key, {
              ...verifyOptions,
              algorithms: ["RS256", "ES256", "PS256"],
            })
          ).payload
        : (
            await jwtVerify(token, secret as KeyObject, {
              ...verifyOptions,
              algorithms: ["HS256"],
            })
          ).payload;
    } catch (e) {
      throw new Unauthenticated({ reason: e instanceof Error ? e.message : "invalid token" });
    }
    const email = claims.email;
    if (typeof email !== "string" || !isActor(email))
      throw new Unauthenticated({ reason: "the token names no e-mail address" });
    return { email, roles: rolesOf(claims) };
  };
};
