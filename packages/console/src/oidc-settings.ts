// What the console's sign-in needs to know, and the URLs made from it: no browser API here.

/**
 * Where the console signs in, as the server or the deployment that serves it
 * says (`/console-config.json`, key `oidc`): one build serves every stage.
 * In AWS: the Cognito user pool the CDK app creates.
 */
export interface OidcSettings {
  /** The issuer (Cognito: `https://cognito-idp.{region}.amazonaws.com/{pool id}`); its discovery document names the endpoints. */
  readonly issuer: string;
  /** The app client (a public client: no secret); the ID token's audience. */
  readonly client_id: string;
  /** Where the provider sends the browser back with the code (one of the app client's callback URLs). */
  readonly redirect_uri: string;
  /** Cognito's sign-out endpoint (`https://{domain}/logout`), which takes `client_id` and `logout_uri`. */
  readonly logout_endpoint?: string;
  /** Where the sign-out endpoint sends the browser back (one of the app client's sign-out URLs). */
  readonly logout_uri?: string;
  /** Scopes asked for; `openid email` unless given. */
  readonly scope?: string;
}

/** True when this URL is the provider sending the browser back (the redirect URI's path). */
export const isCallback = (settings: OidcSettings, here: URL): boolean =>
  here.pathname === new URL(settings.redirect_uri).pathname;

/**
 * Where the browser goes to sign out: Cognito's `/logout` with the app client
 * and the sign-out URL, which ends the hosted UI's session too (otherwise the
 * next sign-in would go through without a password).
 */
export const signOutUrl = (settings: OidcSettings): string | undefined => {
  if (!settings.logout_endpoint) return undefined;
  const url = new URL(settings.logout_endpoint);
  url.searchParams.set("client_id", settings.client_id);
  if (settings.logout_uri) url.searchParams.set("logout_uri", settings.logout_uri);
  return url.href;
};
