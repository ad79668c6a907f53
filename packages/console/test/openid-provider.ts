import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type KoaContextWithOIDC } from "oidc-provider";

/** Who may sign in at the test's provider, and their Cognito groups. */
export type Users = Readonly<Record<string, { readonly groups: ReadonlyArray<string> }>>;

export interface OpenIdProvider {
  readonly issuer: string;
  readonly jwksUrl: string;
  /** Cognito's sign-out endpoint as the provider serves it (`/logout?client_id&logout_uri`). */
  readonly logoutEndpoint: string;
  /** Every request the provider received: path and query. */
  readonly requests: Array<string>;
  readonly stop: () => Promise<void>;
}

/**
 * panva's `oidc-provider` in process on 127.0.0.1, set up as the Cognito user
 * pool is for the console: one public app client (no secret), authorization
 * code with PKCE (S256) only, ID tokens with `email` and `cognito:groups`, no
 * consent screen (the hosted UI has none), and Cognito's `/logout` endpoint
 * (its documented parameters: `client_id`, and `logout_uri` one of the app
 * client's sign-out URLs). Its login page is oidc-provider's development one:
 * any password; the login names the user.
 */
export const startOpenIdProvider = async (options: {
  readonly clientId: string;
  readonly redirectUri: string;
  readonly logoutUri: string;
  readonly users: Users;
}): Promise<OpenIdProvider> => {
  const server: Server = createServer();
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const origin = new URL(options.redirectUri).origin;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code"],
        response_types: ["code"],
        redirect_uris: [options.redirectUri],
        post_logout_redirect_uris: [options.logoutUri],
      },
    ],
    pkce: { required: () => true },
    jwks: { keys: [{ ...privateKey.export({ format: "jwk" }), kid: "test", use: "sig" }] },
    cookies: { keys: ["a test's cookie key, not a secret"] },
    claims: { openid: ["sub", "cognito:groups"], email: ["email", "email_verified"] },
    // Cognito's ID token carries the user's claims (not only the userinfo endpoint).
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: true } },
    findAccount: (_ctx, id) => {
      const user = options.users[id];
      if (!user) return undefined;
      return {
        accountId: id,
        claims: () => ({
          sub: id,
          email: id,
          email_verified: true,
          "cognito:groups": [...user.groups],
        }),
      };
    },
    // No consent screen, as Cognito's hosted UI: the app client's scopes are granted.
    loadExistingGrant: async (ctx: KoaContextWithOIDC) => {
      const client = ctx.oidc.client;
      const session = ctx.oidc.session;
      if (!client || !session?.accountId) return undefined;
      const grantId = session.grantIdFor(client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: client.clientId,
        accountId: session.accountId,
      });
      grant.addOIDCScope("openid email");
      await grant.save();
      session.grantIdFor(client.clientId, grant.jti);
      return grant;
    },
    clientBasedCORS: (_ctx, from) => from === origin,
    ttl: {
      IdToken: 3_600,
      AccessToken: 3_600,
      AuthorizationCode: 60,
      Session: 3_600,
      Grant: 3_600,
    },
  });
  const requests: Array<string> = [];
  provider.use(async (ctx, next) => {
    requests.push(ctx.url);
    if (ctx.path !== "/logout") return next();
    // Cognito's /logout: ends the provider's session, then back to an allowed sign-out URL.
    const clientId = ctx.query.client_id;
    const logoutUri = ctx.query.logout_uri;
    if (clientId !== options.clientId || logoutUri !== options.logoutUri) {
      ctx.status = 400;
      ctx.body = "invalid_request";
      return;
    }
    const session = await provider.Session.get(ctx);
    await session.destroy();
    ctx.redirect(logoutUri);
  });
  server.on("request", provider.callback());
  return {
    issuer,
    jwksUrl: `${issuer}/jwks`,
    logoutEndpoint: `${issuer}/logout`,
    requests,
    stop: () => new Promise<void>((done) => server.close(() => done())),
  };
};
