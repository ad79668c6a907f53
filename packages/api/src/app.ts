import { randomBytes, randomUUID } from "node:crypto";
import {
  type CommandOutcome,
  type CommandRequest,
  executeRequest,
  type Idempotency,
} from "@medusa/domain";
import { Effect, Either, ManagedRuntime, Predicate } from "effect";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { Unauthenticated } from "./auth.js";
import type { ApiDeps, ApiEnv, ApiPorts } from "./context.js";
import { cursorSeal } from "./cursor.js";
import { type ApiFailure, problemOf } from "./errors.js";
import { openApiDocument } from "./openapi.js";
import { ProblemError, problem, sendProblem } from "./problems.js";
import { deviceConfigurationRoutes } from "./routes/device-configuration.js";
import { deviceJobsRoutes } from "./routes/device-jobs.js";
import { devices } from "./routes/devices.js";
import { FHIR_BASE_PATH, fhir } from "./routes/fhir.js";
import { alerts, fleet } from "./routes/fleet.js";
import { patients } from "./routes/patients.js";

export const MAX_BODY_BYTES = 64 * 1024;

/** Runs a use case on the app's ports; a typed failure becomes its problem. */
export type Run = <A>(effect: Effect.Effect<A, ApiFailure, ApiPorts>) => Promise<A>;

/** What the routes are given: the dependencies, and the use cases on the ports built once. */
export interface Routes {
  readonly deps: ApiDeps;
  readonly run: Run;
  /** Timeline cursors as clients see them: sealed with the app's key. */
  readonly cursors: ReturnType<typeof cursorSeal>;
  /** Runs an assignment command; a new commit is announced to `onCommit`. */
  readonly command: (request: CommandRequest, idempotency?: Idempotency) => Promise<CommandOutcome>;
}

/** Builds the API from its dependencies. `server.ts` (Node) and the Lambda handler are a few lines each. */
export const createApp = (deps: ApiDeps) => {
  const log = deps.log ?? ((entry) => console.log(JSON.stringify(entry)));
  // The ports are built once, for every request the app serves.
  const runtime = ManagedRuntime.make(deps.layer);
  const run: Run = (effect) =>
    runtime.runPromise(Effect.either(effect)).then((r) => {
      if (Either.isLeft(r)) throw new ProblemError(problemOf(r.left), r.left);
      return r.right;
    });
  const routes: Routes = {
    deps,
    run,
    cursors: cursorSeal(deps.cursorKey ?? randomBytes(32)),
    command: async (request, idempotency) => {
      const outcome = await run(
        executeRequest(request, {
          ...(deps.policy ? { policy: deps.policy } : {}),
          ...(idempotency ? { idempotency } : {}),
        }),
      );
      if (!outcome.duplicate) deps.onCommit?.(outcome.commit);
      return outcome;
    },
  };
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

  // Patient data and the answers to commands: no browser or proxy keeps a copy.
  app.use("/api/*", async (c, next) => {
    await next();
    c.header("cache-control", "no-store");
  });
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

  app.route("/api/devices", devices(routes));
  app.route("/api/devices", deviceConfigurationRoutes(routes));
  app.route("/api/devices", deviceJobsRoutes(routes));
  app.route("/api/devices", fleet(routes));
  app.route("/api/alerts", alerts(routes));
  app.route("/api/patients", patients(routes));
  // FHIR R4, read-only; its own auth and errors (OperationOutcome): routes/fhir.ts.
  app.route(FHIR_BASE_PATH, fhir(routes));

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
          error: Predicate.hasProperty(error.cause, "_tag") ? error.cause._tag : error.cause.name,
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
