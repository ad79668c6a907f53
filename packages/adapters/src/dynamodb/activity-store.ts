import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import {
  type ActivityBlock,
  type ActivityBlockKey,
  type ActivityStoreService,
  type DeviceId,
  StorageUnavailable,
  type TimeRange,
} from "@medusa/domain";
import { Effect, Either, Schema } from "effect";
import {
  ActivityItem,
  activityFromItem,
  activityItemKey,
  blockText,
  itemStartOf,
  QUARTERS,
  quarterOf,
} from "./activity-item.js";
import { queryAll, reasonOf } from "./query.js";
import { PATIENT_ACTIVITY_INDEX, type TableNames } from "./tables.js";

export interface ActivityStoreOptions {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
}

const unavailable = (operation: string, e: unknown) =>
  new StorageUnavailable({ store: "activity table", operation, reason: reasonOf(e) });

const encodeEither = Schema.encodeEither(ActivityItem);
const encodeItem = (blocks: ReadonlyArray<ActivityBlock>) =>
  Either.getOrThrow(
    Either.mapLeft(
      encodeEither(blocks),
      (e) => new Error(`activity blocks do not make an item: ${e.message}`),
    ),
  );

/** Blocks a range selects (by their start), in the order the port promises. */
const within = (
  items: ReadonlyArray<ReadonlyArray<ActivityBlock>>,
  range: TimeRange,
  order: (a: ActivityBlock, b: ActivityBlock) => number,
): Array<ActivityBlock> => {
  const out: Array<ActivityBlock> = [];
  for (const item of items)
    for (const b of item) if (b.start >= range.start && b.start < range.end) out.push(b);
  return out.sort(order);
};

const inOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** One item's change: the quarters to set, the quarters to remove. */
interface ItemChange {
  readonly key: ActivityBlockKey;
  readonly put: Array<ActivityBlock>;
  readonly remove: Array<ActivityBlockKey>;
}

const changesOf = (
  put: ReadonlyArray<ActivityBlock>,
  remove: ReadonlyArray<ActivityBlockKey>,
): ReadonlyArray<ItemChange> => {
  const byItem = new Map<string, ItemChange>();
  const changeOf = (k: ActivityBlockKey) => {
    const start = itemStartOf(k.start);
    const id = `${start}\u0000${k.patientId}`;
    let c = byItem.get(id);
    if (!c) {
      c = { key: { patientId: k.patientId, start }, put: [], remove: [] };
      byItem.set(id, c);
    }
    return c;
  };
  for (const b of put) changeOf(b).put.push(b);
  for (const k of remove) changeOf(k).remove.push(k);
  return [...byItem.values()];
};

/**
 * Activity blocks on DynamoDB, an hour of one patient on one device an item
 * (`activity-item.ts`): a device's blocks are one Query of the table, a
 * patient's one Query of `patient-activity-index` (a week of one device is
 * 168 items of about 1.1 KB: some 50 read units, eventually consistent half
 * of that). A write sets (and removes) only the quarters a refresh
 * recomputed, one UpdateItem per item, so two refreshes of different
 * quarters never undo each other; an item left without quarters is deleted
 * (on the condition that it still has none).
 */
export const makeDynamoActivityStore = (options: ActivityStoreOptions): ActivityStoreService => {
  const { client, tables } = options;

  const update = (deviceId: DeviceId, change: ItemChange) =>
    Effect.tryPromise({
      try: async () => {
        const names: Record<string, string> = {};
        const values: Record<string, unknown> = {};
        const set: Array<string> = [];
        if (change.put.length > 0) {
          const item = encodeItem(change.put);
          names["#s"] = "start";
          names["#t"] = "ttl";
          Object.assign(values, {
            ":p": item.patient_id,
            ":pb": item.patient_block,
            ":s": item.start,
            ":t": item.ttl,
          });
          set.push("patient_id = :p", "patient_block = :pb", "#s = :s", "#t = :t");
          for (const q of QUARTERS)
            if (item[q] !== undefined) {
              set.push(`${q} = :${q}`);
              values[`:${q}`] = item[q];
            }
        }
        const removed = [...new Set(change.remove.map((k) => quarterOf(k.start)))].filter(
          (q) => !change.put.some((b) => quarterOf(b.start) === q),
        );
        const expression = [
          ...(set.length > 0 ? [`SET ${set.join(", ")}`] : []),
          ...(removed.length > 0 ? [`REMOVE ${removed.join(", ")}`] : []),
        ].join(" ");
        if (expression === "") return;
        const key = marshall(activityItemKey(deviceId, change.key));
        let after: Record<string, AttributeValue> | undefined;
        try {
          const out = await client.send(
            new UpdateItemCommand({
              TableName: tables.activity,
              Key: key,
              UpdateExpression: expression,
              ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
              ...(Object.keys(values).length > 0
                ? { ExpressionAttributeValues: marshall(values) }
                : {}),
              // Removing from an item that is not there must not make one.
              ...(set.length === 0 ? { ConditionExpression: "attribute_exists(device_id)" } : {}),
              ...(removed.length > 0 ? { ReturnValues: "ALL_NEW" as const } : {}),
            }),
          );
          after = out.Attributes;
        } catch (e) {
          if (e instanceof ConditionalCheckFailedException) return;
          throw e;
        }
        if (removed.length > 0 && after && QUARTERS.every((q) => after?.[q] === undefined))
          await client
            .send(
              new DeleteItemCommand({
                TableName: tables.activity,
                Key: key,
                ConditionExpression: QUARTERS.map((q) => `attribute_not_exists(${q})`).join(
                  " AND ",
                ),
              }),
            )
            .catch((e: unknown) => {
              // A quarter written since: the item stays.
              if (!(e instanceof ConditionalCheckFailedException)) throw e;
            });
      },
      catch: (e) => unavailable("apply", e),
    });

  return {
    deviceBlocks: (deviceId, range) =>
      Effect.map(
        queryAll(
          client,
          {
            TableName: tables.activity,
            KeyConditionExpression: "device_id = :d AND #b BETWEEN :from AND :to",
            ExpressionAttributeNames: { "#b": "block" },
            ExpressionAttributeValues: marshall({
              ":d": deviceId,
              ":from": blockText(itemStartOf(range.start)),
              // '$' sorts after '#': every patient's item starting at range.end − 1 or before.
              ":to": `${blockText(range.end - 1)}$`,
            }),
            ConsistentRead: true,
          },
          activityFromItem,
          (e) => unavailable("deviceBlocks", e),
        ),
        (items) =>
          within(items, range, (a, b) => a.start - b.start || inOrder(a.patientId, b.patientId)),
      ),
    apply: (deviceId, put, remove) =>
      Effect.asVoid(
        Effect.forEach(changesOf(put, remove), (change) => update(deviceId, change), {
          concurrency: 8,
        }),
      ),
    patientBlocks: (patientId, range) =>
      Effect.map(
        queryAll(
          client,
          {
            TableName: tables.activity,
            IndexName: PATIENT_ACTIVITY_INDEX,
            KeyConditionExpression: "patient_id = :p AND patient_block BETWEEN :from AND :to",
            ExpressionAttributeValues: marshall({
              ":p": patientId,
              ":from": blockText(itemStartOf(range.start)),
              ":to": `${blockText(range.end - 1)}$`,
            }),
          },
          activityFromItem,
          (e) => unavailable("patientBlocks", e),
        ),
        (items) =>
          within(items, range, (a, b) => a.start - b.start || inOrder(a.deviceId, b.deviceId)),
      ),
  };
};
