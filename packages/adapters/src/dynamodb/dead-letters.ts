import { createHash } from "node:crypto";
import { type DynamoDBClient, PutItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { type DeadLetter, type DeadLettersService, StorageUnavailable } from "@medusa/domain";
import { Effect } from "effect";
import type { TableNames } from "./tables.js";

const DAY_MS = 86_400_000;
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

/**
 * Room for the raw payload in one item: DynamoDB's item limit is 400 KB, and
 * the issues (at most 100, short) and the rest take well under 50 KB. AWS IoT
 * Core's messages are at most 128 KB, so only a direct call can be larger.
 */
const MAX_STORED_PAYLOAD = 300_000;

/**
 * The letter's id: time-ordered (newest-first listing) and derived from what
 * it holds, so storing the same rejection again (a retried batch, a
 * redelivered message) overwrites it instead of adding a copy.
 */
const letterId = (letter: DeadLetter) =>
  `${String(letter.receivedAt).padStart(15, "0")}-${createHash("sha256")
    .update(
      JSON.stringify([letter.source, letter.topic, letter.clientId, letter.payload, letter.reason]),
    )
    .digest("hex")
    .slice(0, 16)}`;

/** What could not be ingested, kept with the raw payload and the reason; keyed `(day, id)`. */
export const makeDynamoDeadLetters = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  readonly now?: () => number;
}): DeadLettersService => {
  const { client, tables } = options;
  const now = options.now ?? Date.now;
  const fail = (operation: string) => (e: unknown) =>
    new StorageUnavailable({ store: "dead-letter table", operation, reason: String(e) });
  return {
    put: (letter: DeadLetter) =>
      Effect.tryPromise({
        try: () =>
          client.send(
            new PutItemCommand({
              TableName: tables.deadLetters,
              Item: marshall(
                {
                  day: day(letter.receivedAt),
                  id: letterId(letter),
                  received_at: letter.receivedAt,
                  source: letter.source,
                  topic: letter.topic ?? undefined,
                  client_id: letter.clientId ?? undefined,
                  // Kept whole up to what an item can hold; beyond that its head, and its size.
                  payload: letter.payload.slice(0, MAX_STORED_PAYLOAD),
                  payload_length:
                    letter.payload.length > MAX_STORED_PAYLOAD ? letter.payload.length : undefined,
                  payload_encoding: letter.payloadEncoding,
                  reason: letter.reason,
                  issues: letter.issues.map((i) => ({ path: i.path, message: i.message })),
                },
                { removeUndefinedValues: true },
              ),
            }),
          ),
        catch: fail("put"),
      }).pipe(Effect.asVoid),
    recent: (limit) =>
      Effect.gen(function* () {
        const out: Array<DeadLetter> = [];
        // The last 7 days, newest first.
        for (let d = 0; d < 7 && out.length < limit; d++) {
          const page = yield* Effect.tryPromise({
            try: () =>
              client.send(
                new QueryCommand({
                  TableName: tables.deadLetters,
                  KeyConditionExpression: "#day = :day",
                  ExpressionAttributeNames: { "#day": "day" },
                  ExpressionAttributeValues: { ":day": { S: day(now() - d * DAY_MS) } },
                  ScanIndexForward: false,
                  Limit: limit - out.length,
                }),
              ),
            catch: fail("recent"),
          });
          for (const raw of page.Items ?? []) {
            const i = unmarshall(raw);
            out.push({
              receivedAt: i.received_at,
              source: i.source,
              topic: i.topic ?? null,
              clientId: i.client_id ?? null,
              payload: i.payload,
              payloadEncoding: i.payload_encoding,
              reason: i.reason,
              issues: i.issues ?? [],
            });
          }
        }
        return out;
      }),
  };
};
