import { createHash } from "node:crypto";
import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { type DeadLetter, EpochMillis } from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

/**
 * Room for the raw payload in one item: DynamoDB's item limit is 400 KB, and
 * the issues (at most 100, short) and the rest take well under 50 KB. AWS IoT
 * Core's messages are at most 128 KB, so only a direct call can be larger.
 */
export const MAX_STORED_PAYLOAD = 300_000;

/** The UTC day of a time, the dead-letter table's partition: `2026-11-29`. */
export const dayOf = (t: number): string => new Date(t).toISOString().slice(0, 10);

/**
 * The letter's id: time-ordered (newest-first listing) and derived from what
 * it holds, so storing the same rejection again (a retried batch, a
 * redelivered message) overwrites it instead of adding a copy.
 */
const letterId = (
  letter: Pick<DeadLetter, "source" | "topic" | "clientId" | "payload" | "reason"> & {
    readonly receivedAt: number;
  },
) =>
  `${String(letter.receivedAt).padStart(15, "0")}-${createHash("sha256")
    .update(
      JSON.stringify([letter.source, letter.topic, letter.clientId, letter.payload, letter.reason]),
    )
    .digest("hex")
    .slice(0, 16)}`;

const Issue = Schema.Struct({ path: Schema.String, message: Schema.String });

const DeadLetterValue = Schema.Struct({
  receivedAt: EpochMillis,
  source: Schema.String,
  topic: Schema.NullOr(Schema.String),
  clientId: Schema.NullOr(Schema.String),
  payload: Schema.String,
  payloadEncoding: Schema.Literal("utf8", "base64"),
  reason: Schema.String,
  issues: Schema.Array(Issue),
});

/**
 * A dead letter as its table holds it: keyed `(day, id)`, so an operator lists
 * a day's letters newest first with one Query; the payload kept whole up to
 * what an item can hold, beyond that its head and its length.
 */
export const DeadLetterItem = Schema.transform(
  Schema.Struct({
    day: Schema.String,
    id: Schema.String,
    received_at: Schema.Number,
    source: Schema.String,
    topic: Schema.optionalWith(Schema.String, { exact: true }),
    client_id: Schema.optionalWith(Schema.String, { exact: true }),
    payload: Schema.String,
    payload_length: Schema.optionalWith(Schema.Number, { exact: true }),
    payload_encoding: Schema.Literal("utf8", "base64"),
    reason: Schema.String,
    issues: Schema.optionalWith(Schema.Array(Issue), { exact: true }),
  }),
  DeadLetterValue,
  {
    strict: true,
    decode: (i) => ({
      receivedAt: i.received_at,
      source: i.source,
      topic: i.topic ?? null,
      clientId: i.client_id ?? null,
      payload: i.payload,
      payloadEncoding: i.payload_encoding,
      reason: i.reason,
      issues: i.issues ?? [],
    }),
    encode: (l) => {
      return {
        day: dayOf(l.receivedAt),
        id: letterId(l),
        received_at: l.receivedAt,
        source: l.source,
        ...(l.topic !== null ? { topic: l.topic } : {}),
        ...(l.clientId !== null ? { client_id: l.clientId } : {}),
        payload: l.payload.slice(0, MAX_STORED_PAYLOAD),
        ...(l.payload.length > MAX_STORED_PAYLOAD ? { payload_length: l.payload.length } : {}),
        payload_encoding: l.payloadEncoding,
        reason: l.reason,
        issues: l.issues.map((i) => ({ path: i.path, message: i.message })),
      };
    },
  },
);

const encode = Schema.encodeSync(DeadLetterItem);
const decode = Schema.decodeUnknownEither(DeadLetterItem);

export const deadLetterItem = (letter: DeadLetter): Record<string, AttributeValue> =>
  marshall(encode(letter));

export const deadLetterFromItem = (
  raw: Record<string, AttributeValue>,
): Either.Either<DeadLetter, string> =>
  decode(unmarshall(raw)).pipe(Either.mapLeft((e) => ParseResult.TreeFormatter.formatErrorSync(e)));
