import {
  BatchWriteItemCommand,
  type DynamoDBClient,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { type ActivityStoreService, StorageUnavailable } from "@medusa/domain";
import { Effect } from "effect";
import { activityBlockKey, activityFromItem, activityItem, blockText } from "./activity-item.js";
import { queryAll, reasonOf } from "./query.js";
import { PATIENT_ACTIVITY_INDEX, type TableNames } from "./tables.js";

export interface ActivityStoreOptions {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  /** How long `apply` keeps retrying what DynamoDB leaves unprocessed. */
  readonly writeDeadlineMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const unavailable = (operation: string, e: unknown) =>
  new StorageUnavailable({ store: "activity table", operation, reason: reasonOf(e) });

/**
 * Activity blocks on DynamoDB: a device's blocks are one Query of the table,
 * a patient's one Query of `patient-activity-index` (a week of one device is
 * 672 items of about 300 bytes: some 50 read units, eventually consistent
 * half of that). Writes are BatchWriteItem, 25 per call; what DynamoDB
 * leaves unprocessed is sent again with backoff until the deadline, then the
 * refresh fails (and runs again with its invocation).
 */
export const makeDynamoActivityStore = (options: ActivityStoreOptions): ActivityStoreService => {
  const { client, tables } = options;
  const deadlineMs = options.writeDeadlineMs ?? 10_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));

  const batchWrite = (requests: ReadonlyArray<WriteRequest>) =>
    Effect.tryPromise({
      try: async () => {
        const deadline = Date.now() + deadlineMs;
        let pending = [...requests];
        for (let attempt = 0; pending.length > 0; attempt++) {
          const next: Array<WriteRequest> = [];
          for (let i = 0; i < pending.length; i += 25) {
            const out = await client.send(
              new BatchWriteItemCommand({
                RequestItems: { [tables.activity]: pending.slice(i, i + 25) },
              }),
            );
            next.push(...(out.UnprocessedItems?.[tables.activity] ?? []));
          }
          pending = next;
          if (pending.length === 0) break;
          if (Date.now() >= deadline)
            throw new Error(`${pending.length} block(s) left unprocessed for ${deadlineMs} ms`);
          await sleep(Math.random() * Math.min(2_000, 50 * 2 ** attempt));
        }
      },
      catch: (e) => unavailable("apply", e),
    });

  return {
    deviceBlocks: (deviceId, range) =>
      queryAll(
        client,
        {
          TableName: tables.activity,
          KeyConditionExpression: "device_id = :d AND #b BETWEEN :from AND :to",
          ExpressionAttributeNames: { "#b": "block" },
          ExpressionAttributeValues: marshall({
            ":d": deviceId,
            ":from": blockText(range.start),
            // '$' sorts after '#': every patient's block starting at range.end − 1 or before.
            ":to": `${blockText(range.end - 1)}$`,
          }),
          ConsistentRead: true,
        },
        activityFromItem,
        (e) => unavailable("deviceBlocks", e),
      ),
    apply: (deviceId, put, remove) =>
      batchWrite([
        ...put.map((b) => ({ PutRequest: { Item: activityItem(b) } })),
        ...remove.map((k) => ({
          DeleteRequest: { Key: marshall(activityBlockKey(deviceId, k)) },
        })),
      ]),
    patientBlocks: (patientId, range) =>
      queryAll(
        client,
        {
          TableName: tables.activity,
          IndexName: PATIENT_ACTIVITY_INDEX,
          KeyConditionExpression: "patient_id = :p AND patient_block BETWEEN :from AND :to",
          ExpressionAttributeValues: marshall({
            ":p": patientId,
            ":from": blockText(range.start),
            ":to": `${blockText(range.end - 1)}$`,
          }),
        },
        activityFromItem,
        (e) => unavailable("patientBlocks", e),
      ),
  };
};
