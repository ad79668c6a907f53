import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  DeviceId,
  type DeviceStatusesService,
  type FleetDeviceStatus,
  type InvalidCursor,
  StorageUnavailable,
  type StoredDeviceStatus,
  type StoredDeviceStatusPage,
} from "@medusa/domain";
import { Effect, Either, Option, Schema } from "effect";
import { decodeStatusCursor, encodeStatusCursor } from "../fleet/cursors.js";
import { deviceStatusFromItem, deviceStatusItem } from "./fleet-items.js";
import { reasonOf } from "./query.js";
import type { TableNames } from "./tables.js";

/** Rows whose decoding a store keeps (the newest read; ~1 KB of text and its row each). */
const DECODED_ROWS_KEPT = 5_000;

/**
 * Everything a row's decoding reads (its key, revision and status text), as one
 * string; undefined when an attribute is missing or not of its type (decoded
 * every time, to report why).
 */
const rowText = (raw: Record<string, AttributeValue>): string | undefined => {
  const id = raw.device_id?.S;
  const revision = raw.revision?.N;
  const status = raw.status?.S;
  return id === undefined || revision === undefined || status === undefined
    ? undefined
    : `${id}\n${revision}\n${status}`;
};

/** DynamoDB's limit of actions in one TransactWriteItems. */
const MAX_TRANSACTION_ROWS = 100;

/**
 * The fleet's device statuses on DynamoDB: one item per device; a save is a
 * PutItem conditional on the revision read (none yet: no item), so of two
 * saves at once one wins and the other decides again.
 */
export const makeDynamoDeviceStatuses = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
}): DeviceStatusesService => {
  const { client, tables } = options;
  const fail = (operation: string) => (e: unknown) =>
    new StorageUnavailable({ store: "device status table", operation, reason: reasonOf(e) });
  // The fleet list reads the same rows poll after poll (a console every few seconds, a
  // row changing a few times an hour), and decoding a row (its lifecycle events, wearer
  // and reported summary, checked field by field) costs more than the rest of its read:
  // a fifth of the local stack's CPU under the fleet benchmark's polling. A row's
  // decoding depends on its stored text alone, so a row read unchanged is decoded once.
  const rowsDecoded = new Map<string, StoredDeviceStatus>();
  const decoded = (
    operation: string,
    raw: Parameters<typeof deviceStatusFromItem>[0],
  ): Either.Either<StoredDeviceStatus, StorageUnavailable> => {
    const text = rowText(raw);
    const known = text === undefined ? undefined : rowsDecoded.get(text);
    if (known !== undefined) return Either.right(known);
    const row = Either.mapLeft(deviceStatusFromItem(raw), (e) =>
      fail(operation)(`unreadable row: ${e}`),
    );
    if (text !== undefined && Either.isRight(row)) {
      rowsDecoded.set(text, row.right);
      if (rowsDecoded.size > DECODED_ROWS_KEPT)
        rowsDecoded.delete(rowsDecoded.keys().next().value as string);
    }
    return row;
  };
  /** The conditional PutItem of one row at `expectedRevision` (0: no item yet). */
  const putOf = (status: FleetDeviceStatus, expectedRevision: number) => ({
    TableName: tables.deviceStatuses,
    Item: deviceStatusItem({ status, revision: expectedRevision + 1 }),
    ...(expectedRevision === 0
      ? { ConditionExpression: "attribute_not_exists(device_id)" }
      : {
          ConditionExpression: "revision = :r",
          ExpressionAttributeValues: marshall({ ":r": expectedRevision }),
        }),
  });
  const putRow = (status: FleetDeviceStatus, expectedRevision: number) =>
    client.send(new PutItemCommand(putOf(status, expectedRevision))).then(
      () => "saved" as const,
      (e: unknown) => {
        if (e instanceof ConditionalCheckFailedException) return "changed" as const;
        throw e;
      },
    );
  /**
   * Rows of different devices, 100 to a TransactWriteItems (one alone: a
   * PutItem). A transaction is all or none: when it is cancelled, each row
   * with a reason (its condition failed, another transaction had it) is
   * answered `"changed"` — its writer decides again on a fresh read — and
   * the rest are sent again without them.
   */
  const putRows = async (
    rows: ReadonlyArray<{ readonly status: FleetDeviceStatus; readonly expectedRevision: number }>,
  ): Promise<ReadonlyArray<"saved" | "changed">> => {
    const outcomes = new Map<number, "saved" | "changed">();
    for (let start = 0; start < rows.length; start += MAX_TRANSACTION_ROWS) {
      let pending = rows
        .slice(start, start + MAX_TRANSACTION_ROWS)
        .map((row, k) => ({ index: start + k, row }));
      while (pending.length > 0) {
        const [only] = pending;
        if (pending.length === 1 && only !== undefined) {
          outcomes.set(only.index, await putRow(only.row.status, only.row.expectedRevision));
          break;
        }
        try {
          await client.send(
            new TransactWriteItemsCommand({
              TransactItems: pending.map(({ row }) => ({
                Put: putOf(row.status, row.expectedRevision),
              })),
            }),
          );
          for (const { index } of pending) outcomes.set(index, "saved");
          pending = [];
        } catch (e) {
          if (!(e instanceof TransactionCanceledException)) throw e;
          const reasons = e.CancellationReasons ?? [];
          const refused = new Set(
            pending.flatMap((p, k) => ((reasons[k]?.Code ?? "None") === "None" ? [] : [p.index])),
          );
          // Cancelled without a row to blame: the store's failure, not a race.
          if (refused.size === 0) throw e;
          for (const index of refused) outcomes.set(index, "changed");
          pending = pending.filter((p) => !refused.has(p.index));
        }
      }
    }
    return rows.map((_, i) => outcomes.get(i) ?? "changed");
  };
  const listStored = (page: {
    readonly limit: number;
    readonly cursor?: string;
  }): Effect.Effect<StoredDeviceStatusPage, InvalidCursor | StorageUnavailable> =>
    Effect.gen(function* () {
      const after = page.cursor === undefined ? null : yield* decodeStatusCursor(page.cursor);
      const out = yield* Effect.tryPromise({
        try: () =>
          client.send(
            new ScanCommand({
              TableName: tables.deviceStatuses,
              Limit: page.limit,
              ConsistentRead: true,
              ...(after !== null ? { ExclusiveStartKey: marshall({ device_id: after }) } : {}),
            }),
          ),
        catch: fail("list"),
      });
      const rows: Array<StoredDeviceStatus> = [];
      for (const raw of out.Items ?? []) rows.push(yield* decoded("list", raw));
      // Where DynamoDB stopped: a device id, as every key of this table is.
      const last = Option.getOrNull(
        Schema.decodeUnknownOption(DeviceId)(
          out.LastEvaluatedKey ? unmarshall(out.LastEvaluatedKey).device_id : undefined,
        ),
      );
      return { rows, nextCursor: last === null ? null : encodeStatusCursor(last) };
    });
  return {
    get: (deviceId) =>
      Effect.tryPromise({
        try: () =>
          client.send(
            new GetItemCommand({
              TableName: tables.deviceStatuses,
              Key: marshall({ device_id: deviceId }),
              ConsistentRead: true,
            }),
          ),
        catch: fail("get"),
      }).pipe(
        Effect.flatMap((out) =>
          out.Item === undefined ? Effect.succeed(null) : decoded("get", out.Item),
        ),
      ),
    save: (status, expectedRevision) =>
      Effect.tryPromise({ try: () => putRow(status, expectedRevision), catch: fail("save") }),
    saveAll: (rows) => Effect.tryPromise({ try: () => putRows(rows), catch: fail("save") }),
    list: (page) =>
      Effect.map(listStored(page), ({ rows, nextCursor }) => ({
        statuses: rows.map((row) => row.status),
        nextCursor,
      })),
    listStored,
  };
};
