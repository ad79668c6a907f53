import { type DynamoDBClient, PutItemCommand, QueryCommand } from "@aws-sdk/client-dynamodb";
import { type DeadLetter, type DeadLettersService, StorageUnavailable } from "@medusa/domain";
import { Effect, Either } from "effect";
import { dayOf, deadLetterFromItem, deadLetterItem } from "./dead-letter-item.js";
import type { TableNames } from "./tables.js";

const DAY_MS = 86_400_000;

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
            new PutItemCommand({ TableName: tables.deadLetters, Item: deadLetterItem(letter) }),
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
                  ExpressionAttributeValues: { ":day": { S: dayOf(now() - d * DAY_MS) } },
                  ScanIndexForward: false,
                  Limit: limit - out.length,
                }),
              ),
            catch: fail("recent"),
          });
          for (const raw of page.Items ?? []) {
            const letter = deadLetterFromItem(raw);
            if (Either.isLeft(letter))
              return yield* fail("recent")(`unreadable letter: ${letter.left}`);
            out.push(letter.right);
          }
        }
        return out;
      }),
  };
};
