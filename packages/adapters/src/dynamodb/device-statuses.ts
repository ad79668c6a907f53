import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
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
  const decoded = (operation: string, raw: Parameters<typeof deviceStatusFromItem>[0]) =>
    Either.mapLeft(deviceStatusFromItem(raw), (e) => fail(operation)(`unreadable row: ${e}`));
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
    save: (status: FleetDeviceStatus, expectedRevision) =>
      Effect.tryPromise({
        try: () =>
          client
            .send(
              new PutItemCommand({
                TableName: tables.deviceStatuses,
                Item: deviceStatusItem({ status, revision: expectedRevision + 1 }),
                ...(expectedRevision === 0
                  ? { ConditionExpression: "attribute_not_exists(device_id)" }
                  : {
                      ConditionExpression: "revision = :r",
                      ExpressionAttributeValues: marshall({ ":r": expectedRevision }),
                    }),
              }),
            )
            .then(
              () => "saved" as const,
              (e: unknown) => {
                if (e instanceof ConditionalCheckFailedException) return "changed" as const;
                throw e;
              },
            ),
        catch: fail("save"),
      }),
    list: (page) =>
      Effect.map(listStored(page), ({ rows, nextCursor }) => ({
        statuses: rows.map((row) => row.status),
        nextCursor,
      })),
    listStored,
  };
};
