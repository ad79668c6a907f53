import { Either, Encoding, ParseResult, Schema } from "effect";

/** Why a payload was refused: a reason and every failing path. Kept with the dead letter. */
export class InvalidPayload extends Schema.TaggedError<InvalidPayload>()("InvalidPayload", {
  reason: Schema.String,
  issues: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String })),
}) {
  override get message(): string {
    const first = this.issues[0];
    return first ? `${this.reason}: ${first.path || "(root)"}: ${first.message}` : this.reason;
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** JSON.parse that returns a typed rejection instead of throwing. */
export const parseJson = (raw: string | Uint8Array): Either.Either<unknown, InvalidPayload> => {
  try {
    return Either.right(JSON.parse(typeof raw === "string" ? raw : utf8.decode(raw)));
  } catch (e) {
    return Either.left(
      new InvalidPayload({
        reason: "payload is not JSON",
        issues: [{ path: "", message: e instanceof Error ? e.message : String(e) }],
      }),
    );
  }
};

/** At most this many issues are listed (then how many more): a 4,000-sample batch of bad values has tens of thousands, and a dead letter must fit a DynamoDB item (400 KB). */
export const MAX_LISTED_ISSUES = 100;
const MAX_ISSUE_MESSAGE = 300;

/** Turns a schema error into a rejection naming every failing path. */
export const invalid = (reason: string, error: ParseResult.ParseError): InvalidPayload => {
  const all = ParseResult.ArrayFormatter.formatErrorSync(error);
  const issues = all.slice(0, MAX_LISTED_ISSUES).map((i) => ({
    path: formatPath(i.path),
    message:
      i.message.length > MAX_ISSUE_MESSAGE
        ? `${i.message.slice(0, MAX_ISSUE_MESSAGE)}…`
        : i.message,
  }));
  if (all.length > MAX_LISTED_ISSUES)
    issues.push({ path: "", message: `and ${all.length - MAX_LISTED_ISSUES} more issues` });
  return new InvalidPayload({ reason, issues });
};

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path
    .map((k, i) => (typeof k === "number" ? `[${k}]` : i === 0 ? String(k) : `.${String(k)}`))
    .join("");

/** A payload as kept with a dead letter: UTF-8 text when it is, else base64. */
export interface RawPayload {
  readonly payload: string;
  readonly payloadEncoding: "utf8" | "base64";
}

// Keeps a byte-order mark: the text kept must be the bytes received.
const exactUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Bytes or text as received, or a value already parsed (kept as its JSON). */
export const rawPayload = (received: unknown): RawPayload => {
  if (typeof received === "string") return { payload: received, payloadEncoding: "utf8" };
  if (received instanceof Uint8Array) {
    try {
      return { payload: exactUtf8.decode(received), payloadEncoding: "utf8" };
    } catch {
      return { payload: Encoding.encodeBase64(received), payloadEncoding: "base64" };
    }
  }
  try {
    return { payload: JSON.stringify(received) ?? String(received), payloadEncoding: "utf8" };
  } catch {
    return { payload: String(received), payloadEncoding: "utf8" };
  }
};

/**
 * How deeply arrays and objects may nest in a message. Every shape the system
 * reads is at most a few levels deep; a deeper one is malformed, and is
 * refused before a schema walks it (formatting the schema's error for
 * thousands of levels overflows the stack).
 */
export const MAX_JSON_DEPTH = 32;

/** Whether `value` nests arrays and objects deeper than `max` levels (iterative: no recursion to overflow). */
export const nestedDeeperThan = (value: unknown, max: number = MAX_JSON_DEPTH): boolean => {
  if (typeof value !== "object" || value === null) return false;
  const stack: Array<readonly [object, number]> = [[value, 1]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [node, depth] = next;
    if (depth > max) return true;
    const children: Iterable<unknown> = Array.isArray(node) ? node : Object.values(node);
    for (const child of children)
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
  }
  return false;
};

/**
 * Decodes untrusted input with a schema decoder and never throws: input
 * nested deeper than `MAX_JSON_DEPTH`, and any defect of the decoder, become
 * a typed rejection like a schema error does.
 */
export const decodeGuarded = <A>(
  reason: string,
  input: unknown,
  decode: (u: unknown) => Either.Either<A, ParseResult.ParseError>,
): Either.Either<A, InvalidPayload> => {
  if (nestedDeeperThan(input))
    return Either.left(
      new InvalidPayload({
        reason,
        issues: [{ path: "", message: `more than ${MAX_JSON_DEPTH} levels of arrays and objects` }],
      }),
    );
  try {
    return Either.mapLeft(decode(input), (e) => invalid(reason, e));
  } catch (e) {
    return Either.left(
      new InvalidPayload({
        reason,
        issues: [{ path: "", message: e instanceof Error ? e.message : String(e) }],
      }),
    );
  }
};
