import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import {
  IDEMPOTENCY_KEY_TTL_MS,
  IdempotencyKeyReused,
  type IdempotencyKeysService,
  StorageUnavailable,
} from "@medusa/domain";
import { Effect, Schema } from "effect";
import { reasonOf } from "./query.js";
import type { TableNames } from "./tables.js";

/**
 * A claimed idempotency key as its table holds it: the key, the hash of the
 * request it was claimed for, and when it expires (epoch SECONDS, DynamoDB's
 * TTL attribute; TTL deletes lazily, so the claim checks the time itself).
 */
export const IdempotencyKeyItem = Schema.Struct({
  key: Schema.String,
  request_hash: Schema.String,
  ttl: Schema.Number,
});

/** Idempotency keys on DynamoDB: a claim is one conditional PutItem. */
export const makeDynamoIdempotencyKeys = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
}): IdempotencyKeysService => ({
  claim: ({ key, requestHash, now }) =>
    Effect.tryPromise({
      try: () =>
        options.client.send(
          new PutItemCommand({
            TableName: options.tables.idempotency,
            Item: marshall(
              Schema.encodeSync(IdempotencyKeyItem)({
                key,
                request_hash: requestHash,
                ttl: Math.ceil((now + IDEMPOTENCY_KEY_TTL_MS) / 1000),
              }),
            ),
            // New, the same request again, or expired (TTL deletes within days, not at once).
            ConditionExpression: "attribute_not_exists(#k) OR request_hash = :h OR #ttl < :now",
            ExpressionAttributeNames: { "#k": "key", "#ttl": "ttl" },
            ExpressionAttributeValues: marshall({
              ":h": requestHash,
              ":now": Math.floor(now / 1000),
            }),
          }),
        ),
      catch: (e) =>
        e instanceof ConditionalCheckFailedException
          ? new IdempotencyKeyReused()
          : new StorageUnavailable({
              store: "idempotency table",
              operation: "claim",
              reason: reasonOf(e),
            }),
    }).pipe(Effect.asVoid),
});
