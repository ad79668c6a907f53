import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import {
  type Alert,
  AlertNotFound,
  type AlertsService,
  alertOf,
  StorageUnavailable,
} from "@medusa/domain";
import { Effect, Either } from "effect";
import { decodeAlertCursor, encodeAlertCursor } from "../fleet/cursors.js";
import { alertFromItem, alertItem, OPEN } from "./fleet-items.js";
import { reasonOf } from "./query.js";
import { DEVICE_ALERTS_INDEX, OPEN_ALERTS_INDEX, type TableNames } from "./tables.js";

/**
 * Data-gap alerts on DynamoDB. Opening is a PutItem only where the id is free
 * (a gap found twice is one alert); closing removes `open` only from an open
 * alert; acknowledging keeps the first acknowledgement (`if_not_exists`).
 */
export const makeDynamoAlerts = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
}): AlertsService => {
  const { client, tables } = options;
  const fail = (operation: string) => (e: unknown) =>
    new StorageUnavailable({ store: "alert table", operation, reason: reasonOf(e) });
  const decodeAll = (
    operation: string,
    items: ReadonlyArray<Parameters<typeof alertFromItem>[0]>,
  ) =>
    Effect.forEach(items, (raw) =>
      Either.mapLeft(alertFromItem(raw), (e) => fail(operation)(`unreadable alert: ${e}`)),
    );
  const conditional = <A>(
    operation: string,
    send: () => Promise<unknown>,
    ok: A,
    refused: A,
  ): Effect.Effect<A, StorageUnavailable> =>
    Effect.tryPromise({
      try: () =>
        send().then(
          () => ok,
          (e: unknown) => {
            if (e instanceof ConditionalCheckFailedException) return refused;
            throw e;
          },
        ),
      catch: fail(operation),
    });
  return {
    open: (opened) =>
      conditional(
        "open",
        () =>
          client.send(
            new PutItemCommand({
              TableName: tables.alerts,
              Item: alertItem(alertOf(opened)),
              ConditionExpression: "attribute_not_exists(alert_id)",
            }),
          ),
        "opened" as const,
        "exists" as const,
      ),
    close: (closed) =>
      conditional(
        "close",
        () =>
          client.send(
            new UpdateItemCommand({
              TableName: tables.alerts,
              Key: marshall({ alert_id: closed.alertId }),
              UpdateExpression: "SET closed_at = :at, close_reason = :why REMOVE #open",
              ConditionExpression: "attribute_exists(#open)",
              ExpressionAttributeNames: { "#open": "open" },
              ExpressionAttributeValues: marshall({
                ":at": closed.closedAt,
                ":why": closed.reason,
              }),
            }),
          ),
        "closed" as const,
        "not-open" as const,
      ),
    acknowledge: (alertId, by, at) =>
      Effect.tryPromise({
        try: () =>
          client
            .send(
              new UpdateItemCommand({
                TableName: tables.alerts,
                Key: marshall({ alert_id: alertId }),
                UpdateExpression:
                  "SET acknowledged_at = if_not_exists(acknowledged_at, :at), acknowledged_by = if_not_exists(acknowledged_by, :by)",
                ConditionExpression: "attribute_exists(alert_id)",
                ExpressionAttributeValues: marshall({ ":at": at, ":by": by }),
                ReturnValues: "ALL_NEW",
              }),
            )
            .then(
              (out) => out.Attributes ?? null,
              (e: unknown) => {
                if (e instanceof ConditionalCheckFailedException) return null;
                throw e;
              },
            ),
        catch: fail("acknowledge"),
      }).pipe(
        Effect.flatMap(
          (item): Effect.Effect<Alert, AlertNotFound | StorageUnavailable> =>
            item === null
              ? Effect.fail(new AlertNotFound({ alertId }))
              : Effect.map(decodeAll("acknowledge", [item]), (a) => a[0] as Alert),
        ),
      ),
    get: (alertId) =>
      Effect.tryPromise({
        try: () =>
          client.send(
            new GetItemCommand({
              TableName: tables.alerts,
              Key: marshall({ alert_id: alertId }),
              ConsistentRead: true,
            }),
          ),
        catch: fail("get"),
      }).pipe(
        Effect.flatMap((out) =>
          out.Item === undefined
            ? Effect.succeed(null)
            : Effect.map(decodeAll("get", [out.Item]), (a) => a[0] as Alert),
        ),
      ),
    listOpen: (page) =>
      Effect.gen(function* () {
        const after = page.cursor === undefined ? null : yield* decodeAlertCursor(page.cursor);
        const out = yield* Effect.tryPromise({
          try: () =>
            client.send(
              new QueryCommand({
                TableName: tables.alerts,
                IndexName: OPEN_ALERTS_INDEX,
                KeyConditionExpression: "#open = :open",
                ExpressionAttributeNames: { "#open": "open" },
                ExpressionAttributeValues: marshall({ ":open": OPEN }),
                ScanIndexForward: false,
                Limit: page.limit,
                ...(after !== null
                  ? {
                      ExclusiveStartKey: marshall({
                        alert_id: after.id,
                        open: OPEN,
                        raised_at: after.t,
                      }),
                    }
                  : {}),
              }),
            ),
          catch: fail("listOpen"),
        });
        const alerts = yield* decodeAll("listOpen", out.Items ?? []);
        const last = alerts.at(-1);
        return {
          alerts,
          nextCursor:
            out.LastEvaluatedKey !== undefined && last !== undefined
              ? encodeAlertCursor(last.raisedAt, last.id)
              : null,
        };
      }),
    ofDevice: (deviceId, limit) =>
      Effect.tryPromise({
        try: () =>
          client.send(
            new QueryCommand({
              TableName: tables.alerts,
              IndexName: DEVICE_ALERTS_INDEX,
              KeyConditionExpression: "device_id = :d",
              ExpressionAttributeValues: marshall({ ":d": deviceId }),
              ScanIndexForward: false,
              Limit: limit,
            }),
          ),
        catch: fail("ofDevice"),
      }).pipe(Effect.flatMap((out) => decodeAll("ofDevice", out.Items ?? []))),
  };
};
