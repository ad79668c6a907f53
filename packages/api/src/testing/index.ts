import { SignJWT } from "jose";
import { jwtAuth } from "../auth.js";

export const TEST_SECRET = "test-secret-of-at-least-32-characters!";

/** A signed HS256 token for tests and the local stack. */
export const signToken = (
  claims: { email: string; roles: ReadonlyArray<string> },
  secret = TEST_SECRET,
  expiresIn = "1h",
) =>
  new SignJWT({ email: claims.email, roles: [...claims.roles] })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setExpirationTime(expiresIn)
    .sign(new TextEncoder().encode(secret));

export const testAuth = () => jwtAuth({ secret: TEST_SECRET });
