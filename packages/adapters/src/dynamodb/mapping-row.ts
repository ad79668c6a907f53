import type { AttributeValue, TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  type AssignmentEvent,
  AssignmentInterval,
  EndReason,
  intervalStartedBy,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

/**
 * A row of the device–patient mapping table, the historical read model that
 * existing tools query: key `(device_id, assignment_timestamp)`, GSI
 * `patient-device-index (patient_id, assignment_timestamp)`; `status` is
 * `active` while the assignment lasts, then why it ended.
 */
export const MappingRow = Schema.transform(
  Schema.Struct({
    device_id: Schema.String,
    assignment_timestamp: Schema.Number,
    patient_id: Schema.String,
    patient_name: Schema.optionalWith(Schema.String, { exact: true }),
    assigned_by: Schema.String,
    assignment_end: Schema.optionalWith(Schema.Number, { exact: true }),
    ended_by: Schema.optionalWith(Schema.String, { exact: true }),
    status: Schema.Literal("active", ...EndReason.literals),
    notes: Schema.optionalWith(Schema.String, { exact: true }),
  }),
  AssignmentInterval,
  {
    strict: true,
    decode: (row) => ({
      deviceId: row.device_id,
      patientId: row.patient_id,
      ...(row.patient_name !== undefined ? { patientName: row.patient_name } : {}),
      assignedBy: row.assigned_by,
      start: row.assignment_timestamp,
      end: row.assignment_end ?? null,
      ...(row.ended_by !== undefined ? { endedBy: row.ended_by } : {}),
      ...(row.status !== "active" ? { endReason: row.status } : {}),
      ...(row.notes !== undefined ? { notes: row.notes } : {}),
    }),
    encode: (i) => ({
      device_id: i.deviceId,
      assignment_timestamp: i.start,
      patient_id: i.patientId,
      ...(i.patientName !== undefined ? { patient_name: i.patientName } : {}),
      assigned_by: i.assignedBy,
      ...(i.end !== null ? { assignment_end: i.end } : {}),
      ...(i.endedBy !== undefined ? { ended_by: i.endedBy } : {}),
      status: i.end === null ? ("active" as const) : (i.endReason ?? ("completed" as const)),
      ...(i.notes !== undefined ? { notes: i.notes } : {}),
    }),
  },
);

const encodeRow = Schema.encodeSync(MappingRow);
const decodeRow = Schema.decodeUnknownEither(MappingRow);

/** A row of the mapping table as an interval. */
export const intervalFromRow = (
  item: Record<string, AttributeValue>,
): Either.Either<AssignmentInterval, string> =>
  decodeRow(unmarshall(item)).pipe(
    Either.mapLeft((e) => ParseResult.TreeFormatter.formatErrorSync(e)),
  );

/**
 * The mapping-table writes a commit implies, so the historical read model is
 * written in the same transaction as the log and never disagrees with it: a
 * new row for an assignment that starts, the end of the row an ended
 * assignment is keyed by.
 */
export const mappingWrites = (
  table: string,
  events: ReadonlyArray<AssignmentEvent>,
): Array<TransactWriteItem> =>
  events.map((e): TransactWriteItem => {
    if (e._tag === "DeviceAssigned") {
      return { Put: { TableName: table, Item: marshall(encodeRow(intervalStartedBy(e))) } };
    }
    const ended = encodeRow({
      deviceId: e.deviceId,
      patientId: e.patientId,
      assignedBy: e.endedBy, // not written: the row keeps who assigned it
      start: e.start,
      end: e.at,
      endedBy: e.endedBy,
      endReason: e.reason,
    });
    return {
      Update: {
        TableName: table,
        Key: marshall({
          device_id: ended.device_id,
          assignment_timestamp: ended.assignment_timestamp,
        }),
        UpdateExpression: "SET assignment_end = :end, #status = :status, ended_by = :by",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: marshall({
          ":end": ended.assignment_end,
          ":status": ended.status,
          ":by": ended.ended_by,
        }),
      },
    };
  });
