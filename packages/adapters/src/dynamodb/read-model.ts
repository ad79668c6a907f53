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

/** The device–patient mapping read model, on the historical table and its `patient-device-index`. */
export const makeDynamoReadModel = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
}): AssignmentReadModelService => {
  const { client, tables } = options;
  const query = (
    operation: string,
    input: { index?: string; key: string; value: string; newestOnly?: boolean },
  ) =>
    queryAll(
      client,
      {
        TableName: tables.mapping,
        ...(input.index ? { IndexName: input.index } : { ConsistentRead: true }),
        KeyConditionExpression: `${input.key} = :v`,
        ExpressionAttributeValues: { ":v": { S: input.value } },
        ...(input.newestOnly ? { ScanIndexForward: false, Limit: 1 } : {}),
      },
      intervalFromRow,
      (e) => new StorageUnavailable({ store: "mapping table", operation, reason: reasonOf(e) }),
      { firstPageOnly: input.newestOnly === true },
    ).pipe(Effect.map((rows) => rows.sort(byStartThenDevice)));
  return {
    deviceIntervals: (deviceId) => query("deviceIntervals", { key: "device_id", value: deviceId }),
    // Intervals never overlap, so the newest row is the current assignment unless it has ended.
    currentAssignment: (deviceId) =>
      query("currentAssignment", { key: "device_id", value: deviceId, newestOnly: true }).pipe(
        Effect.map(([newest]) => (newest && newest.end === null ? newest : null)),
      ),
    patientIntervals: (patientId) =>
      query("patientIntervals", {
        index: PATIENT_DEVICE_INDEX,
        key: "patient_id",
        value: patientId,
      }),
  };
};
