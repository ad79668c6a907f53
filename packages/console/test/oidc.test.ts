import { describe, expect, it } from "vitest";
import { isCallback, type OidcSettings, signOutUrl } from "../src/oidc-settings.js";

const cognito: OidcSettings = {
  issuer: "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbC",
  client_id: "app-client",
  redirect_uri: "https://d111.cloudfront.net/sign-in/callback",
  logout_endpoint: "https://medusa-dev-1.auth.eu-central-1.amazoncognito.com/logout",
  logout_uri: "https://d111.cloudfront.net/sign-in",
};

describe("the console's OpenID settings", () => {
  it("signs out through Cognito's /logout with the app client and the sign-out URL", () => {
    const url = new URL(signOutUrl(cognito) as string);
    expect(url.origin + url.pathname).toBe(
      "https://medusa-dev-1.auth.eu-central-1.amazoncognito.com/logout",
    );
    expect(Object.fromEntries(url.searchParams)).toEqual({
      client_id: "app-client",
      logout_uri: "https://d111.cloudfront.net/sign-in",
    });
    const { logout_endpoint: _, ...withoutLogout } = cognito;
    expect(signOutUrl(withoutLogout)).toBeUndefined();
  });

  it("knows the provider's answer by the redirect URI's path, whatever its query", () => {
    expect(
      isCallback(cognito, new URL("https://d111.cloudfront.net/sign-in/callback?code=x&state=y")),
    ).toBe(true);
    expect(isCallback(cognito, new URL("https://d111.cloudfront.net/sign-in"))).toBe(false);
    expect(isCallback(cognito, new URL("https://d111.cloudfront.net/devices/x"))).toBe(false);
  });
});
