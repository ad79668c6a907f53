import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  type AssignmentReadModelService,
  byStartThenDevice,
  StorageUnavailable,
} from "@medusa/domain";
import { Effect } from "effect";
import { intervalFromRow } from "./mapping-row.js";
import { queryAll, reasonOf } from "./query.js";
import { PATIENT_DEVICE_INDEX, type TableNames } from "./tables.js";

/**
 * The device–patient mapping read model, on the historical table and its
 * `patient-device-index`: the rows as `mappingRowsOf` folds them (retracted
 * rows included, marked).
 */
export const makeDynamoReadModel = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
}): AssignmentReadModelService => {
  const { client, tables } = options;
  const query = (operation: string, input: { index?: string; key: string; value: string }) =>
    queryAll(
      client,
      {
        TableName: tables.mapping,
        ...(input.index ? { IndexName: input.index } : { ConsistentRead: true }),
        KeyConditionExpression: `${input.key} = :v`,
        ExpressionAttributeValues: { ":v": { S: input.value } },
      },
      intervalFromRow,
      (e) => new StorageUnavailable({ store: "mapping table", operation, reason: reasonOf(e) }),
    ).pipe(Effect.map((rows) => rows.sort(byStartThenDevice)));
  return {
    deviceIntervals: (deviceId) => query("deviceIntervals", { key: "device_id", value: deviceId }),
    // Live intervals never overlap, so the newest row not entered in error is
    // the current assignment unless it has ended (retracted rows are skipped
    // by a filter: usually none, so one page of one row).
    currentAssignment: (deviceId) =>
      queryAll(
        client,
        {
          TableName: tables.mapping,
          ConsistentRead: true,
          KeyConditionExpression: "device_id = :v",
          FilterExpression: "#status <> :error",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":v": { S: deviceId }, ":error": { S: "entered_in_error" } },
          ScanIndexForward: false,
          Limit: 2,
        },
        intervalFromRow,
        (e) =>
          new StorageUnavailable({
            store: "mapping table",
            operation: "currentAssignment",
            reason: reasonOf(e),
          }),
        { untilFound: true },
      ).pipe(Effect.map(([newest]) => (newest && newest.end === null ? newest : null))),
    patientIntervals: (patientId) =>
      query("patientIntervals", {
        index: PATIENT_DEVICE_INDEX,
        key: "patient_id",
        value: patientId,
      }),
  };
};
