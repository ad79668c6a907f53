import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  Actor,
  Alert,
  AlertId,
  DeviceId,
  EpochMillis,
  FleetDeviceStatus,
  GapCloseReason,
  PatientId,
  type StoredDeviceStatus,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

/**
 * A device's status as its table holds it: key `device_id`, the revision its
 * conditional saves check, and the status as JSON (read whole, never queried
 * by its fields; a new field needs no migration).
 */
export const DeviceStatusItem = Schema.transform(
  Schema.Struct({
    device_id: DeviceId,
    revision: Schema.Number.pipe(Schema.int(), Schema.positive()),
    status: Schema.parseJson(FleetDeviceStatus),
  }),
  Schema.typeSchema(
    Schema.Struct({
      status: FleetDeviceStatus,
      revision: Schema.Number.pipe(Schema.int(), Schema.positive()),
    }),
  ),
  {
    strict: true,
    decode: (item) => ({ status: item.status, revision: item.revision }),
    encode: (row) => ({
      device_id: row.status.deviceId,
      revision: row.revision,
      status: row.status,
    }),
  },
);

const readStatus = Schema.decodeUnknownEither(DeviceStatusItem);
export const deviceStatusItem = (row: StoredDeviceStatus): Record<string, AttributeValue> =>
  marshall(Schema.encodeSync(DeviceStatusItem)(row));
export const deviceStatusFromItem = (
  raw: Record<string, AttributeValue>,
): Either.Either<StoredDeviceStatus, string> =>
  Either.mapLeft(readStatus(unmarshall(raw)), (e) => ParseResult.TreeFormatter.formatErrorSync(e));

/** The value of `open` while an alert is open: its partition in the sparse open-alerts index. */
export const OPEN = "open" as const;

/**
 * An alert as its table holds it: key `alert_id`; `open` while it is open
 * (the sparse open-alerts index), removed when it closes; `device_id` and
 * `raised_at` key the device-alerts index.
 */
export const AlertItem = Schema.transform(
  Schema.Struct({
    alert_id: AlertId,
    kind: Schema.Literal("data-gap"),
    device_id: DeviceId,
    patient_id: PatientId,
    assignment_start: EpochMillis,
    since: EpochMillis,
    raised_at: EpochMillis,
    open: Schema.optionalWith(Schema.Literal(OPEN), { exact: true }),
    closed_at: Schema.optionalWith(EpochMillis, { exact: true }),
    close_reason: Schema.optionalWith(GapCloseReason, { exact: true }),
    acknowledged_at: Schema.optionalWith(EpochMillis, { exact: true }),
    acknowledged_by: Schema.optionalWith(Actor, { exact: true }),
  }),
  Schema.typeSchema(Alert),
  {
    strict: true,
    decode: (i) => ({
      id: i.alert_id,
      kind: i.kind,
      deviceId: i.device_id,
      patientId: i.patient_id,
      assignmentStart: i.assignment_start,
      since: i.since,
      raisedAt: i.raised_at,
      closedAt: i.closed_at ?? null,
      closeReason: i.close_reason ?? null,
      acknowledgedAt: i.acknowledged_at ?? null,
      acknowledgedBy: i.acknowledged_by ?? null,
    }),
    encode: (a) => ({
      alert_id: a.id,
      kind: a.kind,
      device_id: a.deviceId,
      patient_id: a.patientId,
      assignment_start: a.assignmentStart,
      since: a.since,
      raised_at: a.raisedAt,
      ...(a.closedAt === null ? { open: OPEN } : { closed_at: a.closedAt }),
      ...(a.closeReason !== null ? { close_reason: a.closeReason } : {}),
      ...(a.acknowledgedAt !== null ? { acknowledged_at: a.acknowledgedAt } : {}),
      ...(a.acknowledgedBy !== null ? { acknowledged_by: a.acknowledgedBy } : {}),
    }),
  },
);

const readAlert = Schema.decodeUnknownEither(AlertItem);
export const alertItem = (alert: Alert): Record<string, AttributeValue> =>
  marshall(Schema.encodeSync(AlertItem)(alert));
export const alertFromItem = (raw: Record<string, AttributeValue>): Either.Either<Alert, string> =>
  Either.mapLeft(readAlert(unmarshall(raw)), (e) => ParseResult.TreeFormatter.formatErrorSync(e));
