import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { Unauthenticated } from "./auth.js";
import type { ApiDeps, ApiEnv } from "./context.js";
import { openApiDocument } from "./openapi.js";
import { ProblemError, problem, sendProblem } from "./problems.js";
import { devices } from "./routes/devices.js";
import { patients } from "./routes/patients.js";

export const MAX_BODY_BYTES = 64 * 1024;

/** Builds the API from its dependencies. `server.ts` (Node) and the Lambda handler are a few lines each. */
export const createApp = (deps: ApiDeps) => {
  const log = deps.log ?? ((entry) => console.log(JSON.stringify(entry)));
  const app = new Hono<ApiEnv>();

  app.use(requestId({ generator: () => randomUUID() }));
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    // Method, route pattern and status only: never a body, a patient id or a name.
    log({
      level: "info",
      request_id: c.get("requestId"),
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      ms: Math.round(performance.now() - started),
    });
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));
  const openapi = openApiDocument();
  app.get("/openapi.json", (c) => c.json(openapi));

  app.use(
    "/api/*",
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) =>
        sendProblem(
          c,
          problem(413, "body-too-large", "Request body too large", {
            detail: `at most ${MAX_BODY_BYTES} bytes`,
          }),
        ),
    }),
  );
  app.use("/api/*", async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match)
      return sendProblem(
        c,
        problem(401, "unauthorized", "Unauthorized", {
          detail: "send Authorization: Bearer <token>",
        }),
      );
    try {
      c.set("principal", await deps.authenticate(match[1] as string));
    } catch (e) {
      if (e instanceof Unauthenticated)
        return sendProblem(c, problem(401, "unauthorized", "Unauthorized", { detail: e.message }));
      throw e;
    }
    await next();
  });

  app.route("/api/devices", devices(deps));
  app.route("/api/patients", patients(deps));

  app.notFound((c) =>
    sendProblem(
      c,
      problem(404, "not-found", "Not found", { detail: `${c.req.method} ${c.req.path}` }),
    ),
  );
  app.onError((error, c) => {
    if (error instanceof ProblemError) {
      // Why storage failed, for the operator: the store, the operation and the
      // SDK's reason (no request body, no patient data).
      if (error.problem.status >= 500 && error.cause instanceof Error)
        log({
          level: "error",
          request_id: c.get("requestId"),
          route: c.req.routePath,
          error: error.cause.name,
          reason: error.cause.message,
        });
      return sendProblem(c, error.problem);
    }
    log({
      level: "error",
      request_id: c.get("requestId"),
      route: c.req.routePath,
      error: error instanceof Error ? error.name : "unknown",
    });
    return sendProblem(
      c,
      problem(500, "internal", "Internal error", { detail: `request ${c.get("requestId")}` }),
    );
  });
  return app;
};
