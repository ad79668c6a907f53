import { createHash } from "node:crypto";
import { CommandId, decodeGuarded, type Idempotency, invalid } from "@medusa/domain";
import { Either, Schema } from "effect";
import type { Context } from "hono";
import type { ApiEnv } from "./context.js";
import { ProblemError, problem } from "./problems.js";

/**
 * Decodes input with a schema; unknown fields are refused; failures are a 400
 * naming every path. Input nested deeper than any request is refused before
 * the schema walks it.
 */
export const decodeInput = <A, I>(schema: Schema.Schema<A, I>, input: unknown): A => {
  const r = decodeGuarded(
    "invalid request",
    input,
    Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: "error" }),
  );
  if (Either.isRight(r)) return r.right;
  return refuse(r.left.issues);
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

/** A value as JSON with its object keys sorted: the same request always hashes alike. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );

const sha256 = (text: string) => createHash("sha256").update(text).digest("base64url");

/**
 * The command id of a request and, when it carries an `Idempotency-Key`, the
 * key to claim. The key is scoped to the caller and the route; the command id
 * is derived from the key and the request, so a retry of the same request is
 * the same command (it appends nothing) and the same key with another request
 * never replays the first one's outcome (the claim refuses it, and after the
 * key expires it is another command). A fresh id without a key.
 */
export const commandIdFor = (
  c: Context<ApiEnv>,
  route: string,
  request: unknown,
  newId: () => string,
): { readonly commandId: CommandId; readonly idempotency?: Idempotency } => {
  const key = c.req.header("idempotency-key");
  if (!key) return { commandId: Schema.decodeSync(CommandId)(newId()) };
  if (key.length > 200) {
    throw new ProblemError(
      problem(400, "validation-error", "Invalid request", {
        detail: "Idempotency-Key is at most 200 characters",
      }),
    );
  }
  const scoped = sha256(`${c.get("principal").email}\u0000${route}\u0000${key}`);
  const requestHash = sha256(canonical(request));
  return {
    commandId: Schema.decodeSync(CommandId)(`idem-${sha256(`${scoped}\u0000${requestHash}`)}`),
    idempotency: { key: scoped, requestHash },
  };
};
