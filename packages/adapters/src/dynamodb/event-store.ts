import {
  type DynamoDBClient,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import {
  type DeviceId,
  type EventStoreService,
  EventStoreUnavailable,
  VersionConflict,
} from "@medusa/domain";
import { Effect } from "effect";
import { commitItem, decodeCommitItem } from "./commit-item.js";
import { mappingWrites } from "./mapping-row.js";
import { queryAll, reasonOf } from "./query.js";
import type { TableNames } from "./tables.js";

const failure = (operation: string, e: unknown) =>
  new EventStoreUnavailable({ operation, reason: reasonOf(e) });

/** How a cancelled append's reasons read: a lost race, a collision with a transaction in progress, or neither. */
const cancellation = (e: unknown): "conflict" | "collision" | undefined => {
  if (!(e instanceof TransactionCanceledException)) return undefined;
  // The first two items are the commit and the previous version's check.
  const codes = (e.CancellationReasons ?? []).map((r) => r.Code);
  if (codes.slice(0, 2).includes("ConditionalCheckFailed")) return "conflict";
  if (codes.includes("TransactionConflict")) return "collision";
  return undefined;
};

/**
 * The assignment event log on DynamoDB. `append` is one TransactWriteItems:
 * the commit, conditioned on its version not existing yet (exactly one of
 * several concurrent appends at one version wins), and the mapping rows it
 * changes.
 */
export const makeDynamoEventStore = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  /** Items per Query page; small values exercise paging in tests. */
  readonly pageSize?: number;
  /**
   * Attempts of an append that collides with another transaction in progress
   * on the same items (`TransactionConflict`, which the SDK does not retry);
   * after the last it is a `VersionConflict`.
   */
  readonly collisionAttempts?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}): EventStoreService => {
  const { client, tables } = options;
  const attempts = options.collisionAttempts ?? 4;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  return {
    load: (deviceId: DeviceId) =>
      queryAll(
        client,
        {
          TableName: tables.events,
          KeyConditionExpression: "device_id = :d",
          ExpressionAttributeValues: { ":d": { S: deviceId } },
          ConsistentRead: true,
          ...(options.pageSize ? { Limit: options.pageSize } : {}),
        },
        decodeCommitItem,
        (e) => failure("load", e),
      ).pipe(Effect.map((commits) => ({ deviceId, version: commits.length, commits }))),
    append: (commit) => {
      const transact = () =>
        client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                Put: {
                  TableName: tables.events,
                  Item: commitItem(commit),
                  ConditionExpression: "attribute_not_exists(version)",
                },
              },
              // Only the next version: the previous commit must exist (no gaps).
              ...(commit.version > 1
                ? [
                    {
                      ConditionCheck: {
                        TableName: tables.events,
                        Key: marshall({
                          device_id: commit.deviceId,
                          version: commit.version - 1,
                        }),
                        ConditionExpression: "attribute_exists(version)",
                      },
                    },
                  ]
                : []),
              ...mappingWrites(tables.mapping, commit.events),
            ],
          }),
        );
      const conflict = new VersionConflict({
        deviceId: commit.deviceId,
        expectedVersion: commit.version - 1,
      });
      return Effect.tryPromise({
        try: async () => {
          // Concurrent commands on one device collide in DynamoDB as well as
          // race for the version: a collision is retried after a jittered
          // pause (the other transaction has usually finished by then), so
          // the race ends in exactly one winner and typed conflicts.
          for (let attempt = 1; ; attempt++) {
            try {
              await transact();
              return "appended" as const;
            } catch (e) {
              const why = cancellation(e);
              if (why === "conflict") return "conflict" as const;
              if (why !== "collision") throw e;
              if (attempt >= attempts) return "conflict" as const;
              await sleep(random() * 25 * 2 ** attempt);
            }
          }
        },
        catch: (e) => failure("append", e),
      }).pipe(
        Effect.flatMap((outcome) => (outcome === "conflict" ? Effect.fail(conflict) : Effect.void)),
      );
    },
  };
};
