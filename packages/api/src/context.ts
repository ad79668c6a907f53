import { createHash } from "node:crypto";
import {
  type AssignmentCommand,
  type AssignmentInterval,
  type AssignmentReadModelService,
  CommandId,
  type CommandOutcome,
  type Commit,
  type DecisionPolicy,
  EventStore,
  type EventStoreService,
  executeCommand,
  invalid,
  type SensorStoreService,
  statusOf,
} from "@medusa/domain";
import { Effect, Either, Schema } from "effect";
import type { Context } from "hono";
import type { Authenticate, Principal, Role } from "./auth.js";
import { ProblemError, problem } from "./problems.js";

/** Everything the app needs; wired once at the entry point. */
export interface ApiDeps {
  readonly events: EventStoreService;
  readonly readModel: AssignmentReadModelService;
  readonly sensors: SensorStoreService;
  readonly authenticate: Authenticate;
  readonly now?: () => number;
  readonly newId?: () => string;
  /** One JSON line per call; never given patient data. */
  readonly log?: (entry: Record<string, unknown>) => void;
  /** Called after every accepted (not duplicate) commit: the local stack re-attributes and invalidates caches here. */
  readonly onCommit?: (commit: Commit) => void;
  readonly policy?: DecisionPolicy;
}

export interface ApiEnv {
  Variables: {
    principal: Principal;
    requestId: string;
  };
}

/** The principal, if it has the role. */
export const requireRole = (c: Context<ApiEnv>, role: Role): Principal => {
  const principal = c.get("principal");
  if (
    !principal.roles.includes(role) &&
    !(role === "viewer" && principal.roles.includes("clinician"))
  ) {
    throw new ProblemError(
      problem(403, "forbidden", "Forbidden", { detail: `this needs the ${role} role` }),
    );
  }
  return principal;
};

/** Decodes input with a schema; unknown fields are refused; failures are a 400 naming every path. */
export const decodeInput = <A, I>(schema: Schema.Schema<A, I>, input: unknown): A => {
  const r = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" })(input);
  if (Either.isRight(r)) return r.right;
  return refuse(invalid("invalid request", r.left).issues);
};

/** A path parameter decoded with its schema; a 400 problem names the parameter as the field. */
export const decodeParam = <A, I>(
  name: string,
  schema: Schema.Schema<A, I>,
  value: string | undefined,
): A => {
  // The schema itself, not a struct made per request around it: parsers are cached per schema.
  const r = Schema.decodeUnknownEither(schema, { errors: "all" })(value);
  if (Either.isRight(r)) return r.right;
  return refuse(
    invalid("invalid request", r.left).issues.map((i) => ({
      path: i.path === "" ? name : `${name}.${i.path}`,
      message: i.message,
    })),
  );
};

/** A 400 problem listing every failing field; the detail names the first, as `InvalidPayload` does. */
const refuse = (issues: ReadonlyArray<{ readonly path: string; readonly message: string }>) => {
  const first = issues[0];
  throw new ProblemError(
    problem(400, "validation-error", "Invalid request", {
      detail: first
        ? `invalid request: ${first.path || "(root)"}: ${first.message}`
        : "invalid request",
      errors: issues,
    }),
  );
};

/** Refuses query parameters where a route takes none, naming them. */
export const noQuery = (query: Record<string, string>): void => {
  // Not a decode against Schema.Struct({}): an empty struct accepts any property.
  const names = Object.keys(query);
  if (names.length > 0)
    throw new ProblemError(
      problem(400, "validation-error", "Invalid request", {
        detail: "this route takes no query parameters",
        errors: names.map((path) => ({ path, message: "is unexpected" })),
      }),
    );
};

/** The JSON body, or a 400 problem when it is not JSON. */
export const jsonBody = async (c: Context<ApiEnv>): Promise<unknown> => {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ProblemError(
      problem(400, "malformed-json", "Malformed JSON body", {
        detail: e instanceof Error ? e.message : "not JSON",
      }),
    );
  }
};

/**
 * The command id of a request: derived from its `Idempotency-Key` (scoped to
 * the caller and the route), so a retry is the same command and appends
 * nothing; a fresh one otherwise.
 */
export const commandIdFor = (c: Context<ApiEnv>, route: string, newId: () => string): CommandId => {
  const key = c.req.header("idempotency-key");
  if (!key) return Schema.decodeSync(CommandId)(newId());
  if (key.length > 200) {
    throw new ProblemError(
      problem(400, "validation-error", "Invalid request", {
        detail: "Idempotency-Key is at most 200 characters",
      }),
    );
  }
  const digest = createHash("sha256")
    .update(`${c.get("principal").email}\u0000${route}\u0000${key}`)
    .digest("base64url");
  return Schema.decodeSync(CommandId)(`idem-${digest}`);
};

/** Runs a command against the event store; typed failures stay typed for the error mapping. */
export const run = (
  deps: ApiDeps,
  command: AssignmentCommand,
): Promise<Either.Either<CommandOutcome, unknown>> =>
  Effect.runPromise(
    Effect.either(
      executeCommand(command, deps.policy ? { policy: deps.policy } : {}).pipe(
        Effect.provideService(EventStore, deps.events),
      ),
    ),
  ).then((r) => {
    if (Either.isRight(r) && !r.right.duplicate) deps.onCommit?.(r.right.commit);
    return r;
  });

/** An interval as the old backend's JSON shows an assignment. */
export const assignmentView = (i: AssignmentInterval) => ({
  device_id: i.deviceId,
  patient_id: i.patientId,
  patient_name: i.patientName ?? null,
  assigned_by: i.assignedBy,
  assignment_timestamp: i.start,
  assignment_end: i.end,
  ended_by: i.endedBy ?? null,
  status: statusOf(i),
  notes: i.notes ?? null,
});
