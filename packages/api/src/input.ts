import { createHash } from "node:crypto";
import { CommandId, invalid } from "@medusa/domain";
import { Either, Schema } from "effect";
import type { Context } from "hono";
import type { ApiEnv } from "./context.js";
import { ProblemError, problem } from "./problems.js";

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
