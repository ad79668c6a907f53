import type { AttributeValue, TransactWriteItem } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  type AssignmentEvent,
  AssignmentInterval,
  type CorrectionEvent,
  CorrectionReason,
  correctedRow,
  EndReason,
  intervalStartedBy,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

/**
 * A row of the device–patient mapping table, the historical read model that
 * existing tools query: key `(device_id, assignment_timestamp)`, GSI
 * `patient-device-index (patient_id, assignment_timestamp)`; `status` is
 * `active` while the assignment lasts, then why it ended; `entered_in_error`
 * for a retracted assignment (the row stays, marked). A corrected row carries
 * its latest correction: `corrected_by`, `corrected_at` (when it was
 * recorded), `correction_reason`, `correction_note`.
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
    status: Schema.Literal("active", ...EndReason.literals, "entered_in_error"),
    notes: Schema.optionalWith(Schema.String, { exact: true }),
    corrected_by: Schema.optionalWith(Schema.String, { exact: true }),
    corrected_at: Schema.optionalWith(Schema.Number, { exact: true }),
    correction_reason: Schema.optionalWith(CorrectionReason, { exact: true }),
    correction_note: Schema.optionalWith(Schema.String, { exact: true }),
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
      ...(row.status !== "active" && row.status !== "entered_in_error"
        ? { endReason: row.status }
        : {}),
      ...(row.notes !== undefined ? { notes: row.notes } : {}),
      ...(row.corrected_by !== undefined &&
      row.corrected_at !== undefined &&
      row.correction_reason !== undefined &&
      row.correction_note !== undefined
        ? {
            correction: {
              by: row.corrected_by,
              recordedAt: row.corrected_at,
              reason: row.correction_reason,
              note: row.correction_note,
            },
          }
        : {}),
      ...(row.status === "entered_in_error" ? { retracted: true as const } : {}),
    }),
    encode: (i) => ({
      device_id: i.deviceId,
      assignment_timestamp: i.start,
      patient_id: i.patientId,
      ...(i.patientName !== undefined ? { patient_name: i.patientName } : {}),
      assigned_by: i.assignedBy,
      ...(i.end !== null ? { assignment_end: i.end } : {}),
      ...(i.endedBy !== undefined ? { ended_by: i.endedBy } : {}),
      status: i.retracted
        ? ("entered_in_error" as const)
        : i.end === null
          ? ("active" as const)
          : (i.endReason ?? ("completed" as const)),
      ...(i.notes !== undefined ? { notes: i.notes } : {}),
      ...(i.correction !== undefined
        ? {
            corrected_by: i.correction.by,
            corrected_at: i.correction.recordedAt,
            correction_reason: i.correction.reason,
            correction_note: i.correction.note,
          }
        : {}),
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
 * assignment is keyed by. A correction rewrites the row whole from the
 * snapshot its event carries (a retracted row stays, marked; a moved start
 * moves the row to its new key). The same fold as `mappingRowsOf` in the
 * domain; one write per key, since a transaction may touch an item once.
 */
export const mappingWrites = (
  table: string,
  events: ReadonlyArray<AssignmentEvent>,
): Array<TransactWriteItem> => {
  const writes: Array<TransactWriteItem> = [];
  const corrected = new Map<number, AssignmentInterval | "deleted">();
  for (const e of events) {
    switch (e._tag) {
      case "DeviceAssigned":
        writes.push({ Put: { TableName: table, Item: marshall(encodeRow(intervalStartedBy(e))) } });
        break;
      case "AssignmentEnded":
        writes.push(endWrite(table, e));
        break;
      default:
        for (const [start, row] of correctedRows(e)) {
          // A start another correction of this commit moved a row to is not emptied by a
          // later one moving its old row away (a period moved with its adjoining one).
          if (row === "deleted" && corrected.has(start) && corrected.get(start) !== "deleted")
            continue;
          corrected.delete(start); // re-inserted last: the latest write for a key wins
          corrected.set(start, row);
        }
    }
  }
  for (const [start, row] of corrected) {
    const deviceId = events[0]?.deviceId;
    writes.push(
      row === "deleted"
        ? {
            Delete: {
              TableName: table,
              Key: marshall({ device_id: deviceId, assignment_timestamp: start }),
            },
          }
        : { Put: { TableName: table, Item: marshall(encodeRow(row)) } },
    );
  }
  return writes;
};

const endWrite = (
  table: string,
  e: Extract<AssignmentEvent, { _tag: "AssignmentEnded" }>,
): TransactWriteItem => {
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
};

/** The rows one correction writes (or deletes, for a start that moved), by key. */
const correctedRows = (
  e: CorrectionEvent,
): ReadonlyArray<readonly [number, AssignmentInterval | "deleted"]> => {
  const row = correctedRow(e);
  return row.start === e.assignment.start
    ? [[row.start, row]]
    : [
        [e.assignment.start, "deleted"],
        [row.start, row],
      ];
};
