import * as oauth from "oauth4webapi";
import type { OidcSettings } from "./oidc-settings.js";
import type { Session } from "./session.js";

export { isCallback, type OidcSettings, signOutUrl } from "./oidc-settings.js";

/** Why a sign-in came back without a session, in words for the sign-in page. */
export class SignInFailed extends Error {
  override name = "SignInFailed";
}

/** What one sign-in attempt keeps across the redirect to the provider: this tab only, used once. */
interface Pending {
  readonly state: string;
  readonly nonce: string;
  readonly code_verifier: string;
  readonly return_to: string;
}
const PENDING = "medusa.oidc.pending";

// Plain HTTP only to a provider on this machine (the browser test's); anywhere else HTTPS.
const isLoopback = (url: URL) =>
  url.protocol === "http:" && (url.hostname === "127.0.0.1" || url.hostname === "localhost");
const httpOptions = (issuer: URL) =>
  isLoopback(issuer) ? { [oauth.allowInsecureRequests]: true } : {};

/** The provider's endpoints, from its discovery document (the issuer in it must be the one configured). */
const discover = async (settings: OidcSettings): Promise<oauth.AuthorizationServer> => {
  const issuer = new URL(settings.issuer);
  const response = await oauth.discoveryRequest(issuer, {
    algorithm: "oidc",
    ...httpOptions(issuer),
  });
  return oauth.processDiscoveryResponse(issuer, response);
};

/**
 * Starts signing in: a fresh PKCE verifier (S256), state and nonce, kept in
 * this tab's session storage, then the browser goes to the provider's sign-in
 * page. `returnTo` is the console's page to come back to.
 */
export const beginSignIn = async (settings: OidcSettings, returnTo: string): Promise<void> => {
  const as = await discover(settings);
  if (!as.authorization_endpoint)
    throw new SignInFailed("The identity provider names no sign-in page.");
  const pending: Pending = {
    state: oauth.generateRandomState(),
    nonce: oauth.generateRandomNonce(),
    code_verifier: oauth.generateRandomCodeVerifier(),
    return_to: returnTo,
  };
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
  const url = new URL(as.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: settings.client_id,
    redirect_uri: settings.redirect_uri,
    scope: settings.scope ?? "openid email",
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(pending.code_verifier),
    code_challenge_method: "S256",
  }).toString();
  location.assign(url.href);
};

const ROLE_ORDER = ["clinician", "viewer"] as const;

/**
 * Finishes signing in on the redirect URI: the answer's `state` must be the
 * one this tab sent (else it is refused), the code is exchanged with the PKCE
 * verifier, the ID token's issuer, audience (the app client), expiry and nonce
 * are checked by oauth4webapi. The ID token is the session's bearer token —
 * the one the API checks (audience = app client; `cognito:groups` → roles).
 */
export const completeSignIn = async (
  settings: OidcSettings,
  here: URL,
): Promise<{ readonly session: Session; readonly returnTo: string }> => {
  const raw = sessionStorage.getItem(PENDING);
  // Used once, whatever comes of it: a replayed answer finds nothing to match.
  sessionStorage.removeItem(PENDING);
  if (!raw) throw new SignInFailed("This sign-in was not started in this tab. Sign in again.");
  const pending = JSON.parse(raw) as Pending;
  const as = await discover(settings);
  const client: oauth.Client = { client_id: settings.client_id };
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, client, here, pending.state);
  } catch (e) {
    if (e instanceof oauth.AuthorizationResponseError)
      throw new SignInFailed(
        e.error === "access_denied"
          ? "Sign-in was cancelled or refused."
          : `The identity provider refused the sign-in (${e.error}).`,
      );
    throw new SignInFailed(
      "The sign-in answer does not match the request this tab sent. Sign in again.",
    );
  }
  let claims: oauth.IDToken | undefined;
  let idToken: string | undefined;
  try {
    const response = await oauth.authorizationCodeGrantRequest(
      as,
      client,
      oauth.None(),
      params,
      settings.redirect_uri,
      pending.code_verifier,
      httpOptions(new URL(settings.issuer)),
    );
    const result = await oauth.processAuthorizationCodeResponse(as, client, response, {
      expectedNonce: pending.nonce,
      requireIdToken: true,
    });
    claims = oauth.getValidatedIdTokenClaims(result);
    idToken = result.id_token;
  } catch {
    throw new SignInFailed("The identity provider's answer could not be checked. Sign in again.");
  }
  if (!claims || !idToken) throw new SignInFailed("The identity provider sent no ID token.");
  const email = claims.email;
  if (typeof email !== "string")
    throw new SignInFailed("Your account has no e-mail address; ask the operator.");
  const groups = claims["cognito:groups"];
  const list = Array.isArray(groups) ? groups : typeof groups === "string" ? [groups] : [];
  const role = ROLE_ORDER.find((r) => list.includes(r));
  if (!role)
    throw new SignInFailed(
      `${email} is in neither the clinician nor the viewer group; ask the operator to add you.`,
    );
  // Only the ID token is kept (no refresh token): the session ends when it expires.
  return {
    session: { token: idToken, email, role, expiresAt: claims.exp * 1000 },
    returnTo: pending.return_to,
  };
};
