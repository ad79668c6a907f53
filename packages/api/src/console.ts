import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { Schema } from "effect";
import { Hono } from "hono";
import type { ApiEnv } from "./context.js";
import { decodeInput, jsonBody } from "./input.js";
import { ProblemError, problem, sendProblem } from "./problems.js";

/** What the console learns from the server it is served by (`GET /console-config.json`). */
export interface ConsoleConfig {
  /** The clinic's IANA time zone: every time in the console is shown in it, named. */
  readonly timeZone: string;
  /** Sign-in with an OpenID provider (authorization code with PKCE); the console fetches from its origins. */
  readonly oidc?: ConsoleOidc;
}

/** The OpenID provider the console signs in with (in AWS: the Cognito user pool and its app client). */
export interface ConsoleOidc {
  readonly issuer: string;
  /** The app client: the ID tokens' audience, which the API checks. */
  readonly clientId: string;
  readonly redirectUri: string;
  /** Cognito's `/logout` (hosted UI domain); the token endpoint is on the same origin. */
  readonly logoutEndpoint?: string;
  readonly logoutUri?: string;
}

/** Issues a token for the development sign-in; only the local stack gives one. */
export type DevSignIn = (who: {
  readonly role: "clinician" | "viewer";
  readonly email: string;
}) => Promise<{ readonly token: string; readonly expiresAt: number }>;

export interface ConsoleOptions {
  /** The built console (`packages/console/dist`, or `dist-local` for the local stack). */
  readonly dir: string;
  readonly config: ConsoleConfig;
  /** Present only in the local stack: `POST /dev/sign-in` exists only then. */
  readonly devSignIn?: DevSignIn;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json",
};

// The console loads nothing from elsewhere; its scripts are files, never inline.
// With an OpenID provider, its origins too (discovery, token endpoint): no other.
const cspOf = (oidc: ConsoleOidc | undefined) => {
  const origins = oidc
    ? [
        ...new Set(
          [oidc.issuer, oidc.logoutEndpoint].flatMap((u) => (u ? [new URL(u).origin] : [])),
        ),
      ]
    : [];
  return `default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src ${["'self'", ...origins].join(" ")}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'`;
};

interface StaticFile {
  readonly body: Uint8Array;
  readonly type: string;
  readonly etag: string;
}

/**
 * Every file of the built console, read once: only these are served, so no
 * request path can reach another file, and the console (tens of KB) costs
 * no disk read per request.
 */
const readTree = (dir: string): Map<string, StaticFile> => {
  const files = new Map<string, StaticFile>();
  const walk = (at: string) => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const body = readFileSync(path);
        files.set(`/${relative(dir, path).split(sep).join("/")}`, {
          body,
          type: TYPES[extname(name)] ?? "application/octet-stream",
          etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
        });
      }
    }
  };
  walk(dir);
  return files;
};

const SignInBody = Schema.Struct({
  role: Schema.Literal("clinician", "viewer"),
  email: Schema.String.pipe(Schema.pattern(/^[^\s@]{1,64}@[^\s@]{1,190}$/)).annotations({
    description: "who signs in; recorded as the actor of their commands",
  }),
});

/**
 * The API with the clinicians' console in front of it: `/` and the console's
 * files, `GET /console-config.json`, and — only when `devSignIn` is given
 * (the local stack) — `POST /dev/sign-in`. Every other request (`/api/*`,
 * `/healthz`, `/openapi.json`) goes to the API unchanged.
 */
export const withConsole = (
  api: { fetch: (request: Request, ...rest: Array<never>) => Response | Promise<Response> },
  options: ConsoleOptions,
) => {
  const files = readTree(options.dir);
  const index = files.get("/index.html");
  if (!index) throw new Error(`no index.html in ${options.dir}: build the console first`);
  const app = new Hono<ApiEnv>();
  const toApi = (request: Request) => api.fetch(request);
  const oidc = options.config.oidc;
  const CSP = cspOf(oidc);

  app.get("/console-config.json", (c) => {
    c.header("cache-control", "no-store");
    return c.json({
      time_zone: options.config.timeZone,
      dev_sign_in: options.devSignIn !== undefined,
      ...(oidc
        ? {
            oidc: {
              issuer: oidc.issuer,
              client_id: oidc.clientId,
              redirect_uri: oidc.redirectUri,
              ...(oidc.logoutEndpoint ? { logout_endpoint: oidc.logoutEndpoint } : {}),
              ...(oidc.logoutUri ? { logout_uri: oidc.logoutUri } : {}),
            },
          }
        : {}),
    });
  });

  const devSignIn = options.devSignIn;
  if (devSignIn)
    app.post("/dev/sign-in", async (c) => {
      try {
        const who = decodeInput(SignInBody, await jsonBody(c));
        const { token, expiresAt } = await devSignIn(who);
        c.header("cache-control", "no-store");
        return c.json({ token, role: who.role, email: who.email, expires_at: expiresAt });
      } catch (e) {
        if (e instanceof ProblemError) return sendProblem(c, e.problem);
        throw e;
      }
    });

  app.get("*", (c, next) => {
    const path = c.req.path;
    if (
      path.startsWith("/api/") ||
      path.startsWith("/fhir/") ||
      path === "/healthz" ||
      path === "/openapi.json"
    )
      return toApi(c.req.raw);
    // A file of the console; any other path is one of its pages (client-side routes).
    const file = files.get(path) ?? (extname(path) === "" ? index : undefined);
    if (!file) return next();
    const hashed = path.startsWith("/assets/");
    const headers = {
      "content-type": file.type,
      etag: file.etag,
      "cache-control": hashed ? "public, max-age=31536000, immutable" : "no-cache",
      "content-security-policy": CSP,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
    };
    if (c.req.header("if-none-match") === file.etag) return c.body(null, 304, headers);
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, headers);
  });
  app.all("*", (c) => toApi(c.req.raw));
  app.onError((_e, c) =>
    sendProblem(c, problem(500, "internal", "Internal error", { detail: "console" })),
  );
  return app;
};

/** The clinic's time zone setting, checked: an IANA name the runtime knows. */
export const clinicTimeZone = (name: string): string => {
  try {
    return new Intl.DateTimeFormat("en", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    throw new RangeError(`${name} is not a time zone (an IANA name such as Europe/Berlin)`);
  }
};
