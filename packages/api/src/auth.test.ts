import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jwtAuth, rolesOf, Unauthenticated } from "./auth.js";
import { signToken, TEST_SECRET } from "./testing/index.js";

describe("bearer tokens", () => {
  it("HS256 with the configured secret: e-mail and roles from the claims", async () => {
    const auth = jwtAuth({ secret: TEST_SECRET });
    const token = await signToken({ email: "nurse@clinic.example", roles: ["clinician", "x"] });
    expect(await auth(token)).toEqual({ email: "nurse@clinic.example", roles: ["clinician"] });
    await expect(
      auth(
        await signToken({ email: "n@c.example", roles: [] }, "another-secret-long-enough-too!!"),
      ),
    ).rejects.toBeInstanceOf(Unauthenticated);
  });

  it("refuses tokens without exp or iat, living longer than the maximum age, or issued in the future; says no more than that", async () => {
    const now = Math.floor(Date.now() / 1000);
    const key = new TextEncoder().encode(TEST_SECRET);
    const sign = (build: (jwt: SignJWT) => SignJWT) =>
      build(
        new SignJWT({ email: "n@c.example", roles: ["viewer"] }).setProtectedHeader({
          alg: "HS256",
        }),
      ).sign(key);
    const auth = jwtAuth({ secret: TEST_SECRET, maxTokenAgeS: 3_600 });
    expect(await auth(await sign((j) => j.setIssuedAt(now).setExpirationTime(now + 600)))).toEqual({
      email: "n@c.example",
      roles: ["viewer"],
    });
    const refused = [
      await sign((j) => j.setIssuedAt(now)), // no exp
      await sign((j) => j.setExpirationTime(now + 600)), // no iat
      await sign((j) => j.setIssuedAt(now).setExpirationTime(now + 10 * 365 * 86_400)), // absurd exp
      await sign((j) => j.setIssuedAt(now + 3_600).setExpirationTime(now + 4_000)), // issued in the future
      await sign((j) => j.setIssuedAt(now - 7_200).setExpirationTime(now + 600)), // older than the maximum age
    ];
    for (const token of refused) {
      const r = await auth(token).then(
        () => "accepted",
        (e: unknown) => (e instanceof Unauthenticated ? e.message : String(e)),
      );
      expect(r).toBe("invalid or expired token");
    }
  });

  it("Cognito's token kinds: an id token where id tokens are taken, an access token's client_id as the audience", async () => {
    const now = Math.floor(Date.now() / 1000);
    const key = new TextEncoder().encode(TEST_SECRET);
    const token = (claims: Record<string, unknown>) =>
      new SignJWT({ email: "n@c.example", roles: ["viewer"], ...claims })
        .setProtectedHeader({ alg: "HS256" })
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(key);
    const ids = jwtAuth({ secret: TEST_SECRET, audience: "app", tokenUse: "id" });
    await expect(ids(await token({ token_use: "id", aud: "app" }))).resolves.toBeDefined();
    await expect(
      ids(await token({ token_use: "access", client_id: "app" })),
    ).rejects.toBeInstanceOf(Unauthenticated);
    const access = jwtAuth({ secret: TEST_SECRET, audience: "app", tokenUse: "access" });
    await expect(
      access(await token({ token_use: "access", client_id: "app" })),
    ).resolves.toBeDefined();
    await expect(
      access(await token({ token_use: "access", client_id: "another-app" })),
    ).rejects.toBeInstanceOf(Unauthenticated);
    await expect(access(await token({ token_use: "id", aud: "app" }))).rejects.toBeInstanceOf(
      Unauthenticated,
    );
  });

  it("roles from a `roles` array, a space-separated string, or Cognito's groups", () => {
    expect(rolesOf({ roles: ["viewer"] })).toEqual(["viewer"]);
    expect(rolesOf({ roles: "viewer clinician" })).toEqual(["clinician", "viewer"]);
    expect(rolesOf({ "cognito:groups": ["clinician"] })).toEqual(["clinician"]);
    expect(rolesOf({})).toEqual([]);
  });

  describe("from a JWKS URL (Cognito or another OIDC provider)", () => {
    let url: string;
    let close: () => void;
    let sign: (claims: Record<string, unknown>, issuer?: string) => Promise<string>;

    beforeAll(async () => {
      const { publicKey, privateKey } = await generateKeyPair("RS256");
      const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
      const server = createServer((_, res) => {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ keys: [jwk] }));
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
      close = () => server.close();
      sign = (claims, issuer = "https://idp.example") =>
        new SignJWT(claims)
          .setProtectedHeader({ alg: "RS256", kid: "k1" })
          .setIssuer(issuer)
          .setAudience("medusa")
          .setIssuedAt()
          .setExpirationTime("5m")
          .sign(privateKey);
    });
    afterAll(() => close());

    it("verifies RS256 tokens against the provider's keys, checking issuer and audience", async () => {
      const auth = jwtAuth({ jwksUrl: url, issuer: "https://idp.example", audience: "medusa" });
      const token = await sign({ email: "dr@clinic.example", "cognito:groups": ["viewer"] });
      expect(await auth(token)).toEqual({ email: "dr@clinic.example", roles: ["viewer"] });
      await expect(
        auth(await sign({ email: "dr@clinic.example" }, "https://other.example")),
      ).rejects.toBeInstanceOf(Unauthenticated);
      // An HS256 token is refused when keys come from a JWKS (no algorithm confusion).
      await expect(
        auth(await signToken({ email: "dr@clinic.example", roles: ["clinician"] })),
      ).rejects.toBeInstanceOf(Unauthenticated);
    });
  });
});
