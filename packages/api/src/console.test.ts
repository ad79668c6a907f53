import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeInMemoryStores } from "@medusa/adapters/testing";
import { afterAll, describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { clinicTimeZone, withConsole } from "./console.js";
import { portsOf } from "./testing/app-suite.js";
import { testAuth } from "./testing/index.js";

const dir = mkdtempSync(join(tmpdir(), "medusa-console-files-"));
mkdirSync(join(dir, "assets"));
writeFileSync(join(dir, "index.html"), "<!doctype html><title>console</title>");
writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const api = createApp({
  layer: portsOf(makeInMemoryStores()),
  authenticate: testAuth(),
  log: () => {},
});
const served = withConsole(api, { dir, config: { timeZone: "Europe/Berlin" } });
const signedIn: Array<unknown> = [];
const local = withConsole(api, {
  dir,
  config: { timeZone: "Europe/Berlin" },
  devSignIn: async (who) => {
    signedIn.push(who);
    return { token: `token-for-${who.role}`, expiresAt: 1_000 };
  },
});

describe("the console in front of the API", () => {
  it("serves the console's files, and its pages as index.html", async () => {
    const index = await served.request("/");
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toContain("text/html");
    expect(index.headers.get("cache-control")).toBe("no-cache");
    expect(index.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await index.text()).toContain("<title>console</title>");
    // A page of the console (a client-side route) is the same document.
    const page = await served.request("/devices/medusa-pi-01");
    expect(await page.text()).toContain("<title>console</title>");
    const script = await served.request("/assets/index-abc123.js");
    expect(script.headers.get("content-type")).toContain("text/javascript");
    expect(script.headers.get("cache-control")).toContain("immutable");
    const again = await served.request("/assets/index-abc123.js", {
      headers: { "if-none-match": script.headers.get("etag") ?? "" },
    });
    expect(again.status).toBe(304);
  });

  it("serves no other file: a missing asset or a path out of the folder is the API's 404", async () => {
    for (const path of [
      "/assets/missing.js",
      "/../package.json",
      "/assets/..%2f..%2fetc%2fpasswd",
    ]) {
      const r = await served.request(path);
      expect(r.status, path).toBe(404);
      expect(r.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("passes the API through unchanged", async () => {
    expect(await (await served.request("/healthz")).json()).toEqual({ status: "ok" });
    expect((await served.request("/openapi.json")).status).toBe(200);
    const r = await served.request("/api/devices/medusa-pi-01/patient");
    expect(r.status).toBe(401);
    expect(r.headers.get("content-type")).toBe("application/problem+json");
    const post = await served.request("/api/devices/assign", { method: "POST", body: "{}" });
    expect(post.status).toBe(401);
  });

  it("tells the console the clinic's time zone, and whether the development sign-in exists", async () => {
    expect(await (await served.request("/console-config.json")).json()).toEqual({
      time_zone: "Europe/Berlin",
      dev_sign_in: false,
    });
    expect(await (await local.request("/console-config.json")).json()).toEqual({
      time_zone: "Europe/Berlin",
      dev_sign_in: true,
    });
  });

  it("with an OpenID provider: tells the console its settings, and its CSP lets the console reach only that provider", async () => {
    const oidc = withConsole(api, {
      dir,
      config: {
        timeZone: "Europe/Berlin",
        oidc: {
          issuer: "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbC",
          clientId: "app-client",
          redirectUri: "https://console.example/sign-in/callback",
          logoutEndpoint: "https://medusa-dev.auth.eu-central-1.amazoncognito.com/logout",
          logoutUri: "https://console.example/sign-in",
        },
      },
    });
    expect(await (await oidc.request("/console-config.json")).json()).toEqual({
      time_zone: "Europe/Berlin",
      dev_sign_in: false,
      oidc: {
        issuer: "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_AbC",
        client_id: "app-client",
        redirect_uri: "https://console.example/sign-in/callback",
        logout_endpoint: "https://medusa-dev.auth.eu-central-1.amazoncognito.com/logout",
        logout_uri: "https://console.example/sign-in",
      },
    });
    const csp = (await oidc.request("/sign-in/callback")).headers.get("content-security-policy");
    expect(csp).toContain(
      "connect-src 'self' https://cognito-idp.eu-central-1.amazonaws.com https://medusa-dev.auth.eu-central-1.amazoncognito.com;",
    );
    expect((await served.request("/")).headers.get("content-security-policy")).toContain(
      "connect-src 'self';",
    );
  });

  it("passes FHIR through to the API, never as a console page", async () => {
    const r = await served.request("/fhir/R4/metadata");
    expect(r.headers.get("content-type")).not.toContain("text/html");
  });

  it("has POST /dev/sign-in only when given a development sign-in", async () => {
    const body = JSON.stringify({ role: "viewer", email: "v@clinic.example" });
    const headers = { "content-type": "application/json" };
    expect((await served.request("/dev/sign-in", { method: "POST", body, headers })).status).toBe(
      404,
    );
    const r = await local.request("/dev/sign-in", { method: "POST", body, headers });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      token: "token-for-viewer",
      role: "viewer",
      email: "v@clinic.example",
      expires_at: 1_000,
    });
    const bad = await local.request("/dev/sign-in", {
      method: "POST",
      body: JSON.stringify({ role: "admin", email: "x" }),
      headers,
    });
    expect(bad.status).toBe(400);
    const { errors } = (await bad.json()) as { errors: Array<{ path: string }> };
    expect(new Set(errors.map((e) => e.path))).toEqual(new Set(["role", "email"]));
    expect(signedIn).toEqual([{ role: "viewer", email: "v@clinic.example" }]);
  });

  it("checks the clinic's time zone", () => {
    expect(clinicTimeZone("Europe/Berlin")).toBe("Europe/Berlin");
    expect(() => clinicTimeZone("Mars/Olympus")).toThrow(/not a time zone/);
  });
});
