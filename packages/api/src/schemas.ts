import {
  AlertId,
  DeviceId,
  EndReason,
  EpochMillis,
  FleetFilter,
  Notes,
  PatientId,
  PatientName,
} from "@medusa/domain";
import { Schema } from "effect";
import { jsonSchemaOf } from "./json-schema.js";

const optional = <A, I>(s: Schema.Schema<A, I>) => Schema.optionalWith(s, { exact: true });
const Time = EpochMillis.annotations({ description: "Unix epoch milliseconds (UTC)" });
const TimeFromString = Schema.NumberFromString.pipe(Schema.compose(Time));

export const AssignBody = Schema.Struct({
  device_id: DeviceId,
  patient_id: PatientId,
  /** Optional, as in the domain and the historical table: the clinic's id is what counts. */
  patient_name: optional(PatientName),
  notes: optional(Notes),
  /** When the device went on the patient; now when absent. */
  assignment_timestamp: optional(Time),
}).annotations({ identifier: "AssignRequest" });

export const UnassignBody = Schema.Struct({
  device_id: DeviceId,
  patient_id: PatientId,
  reason: optional(EndReason),
  /** When the assignment ended; now when absent. */
  assignment_end: optional(Time),
}).annotations({ identifier: "UnassignRequest" });

/** The old route's form: the same fields as query parameters. */
export const UnassignQuery = Schema.Struct({
  device_id: DeviceId,
  patient_id: PatientId,
  reason: optional(EndReason),
  assignment_end: optional(TimeFromString),
});

export const ReassignBody = Schema.Struct({
  device_id: DeviceId,
  patient_id: PatientId,
  patient_name: optional(PatientName),
  notes: optional(Notes),
  /** Why the previous assignment ended; `completed` when absent. */
  reason: optional(EndReason),
  assignment_timestamp: optional(Time),
}).annotations({ identifier: "ReassignRequest" });

export const PatientDevicesQuery = Schema.Struct({
  /** `history`: every device the patient ever wore, with its intervals. */
  include: optional(
    Schema.Literal("history").annotations({
      description: "history: every device the patient ever wore, with its intervals",
    }),
  ),
});

export const MAX_PAGE = 10_000;
const Limit = Schema.Number.pipe(
  Schema.int(),
  Schema.between(1, MAX_PAGE, { message: () => `limit must be between 1 and ${MAX_PAGE}` }),
);

export const SensorDataBody = Schema.Struct({
  start_time: Time,
  end_time: Time,
  limit: optional(Limit),
  cursor: optional(Schema.String),
}).annotations({ identifier: "SensorDataRequest" });

export const SensorDataQuery = Schema.Struct({
  start_time: TimeFromString,
  end_time: TimeFromString,
  limit: optional(Schema.NumberFromString.pipe(Schema.compose(Limit))),
  cursor: optional(Schema.String),
});

// Responses (for the OpenAPI document).
export const AssignmentView = Schema.Struct({
  device_id: Schema.String,
  patient_id: Schema.String,
  patient_name: Schema.NullOr(Schema.String),
  assigned_by: Schema.String,
  assignment_timestamp: Time,
  assignment_end: Schema.NullOr(Time),
  ended_by: Schema.NullOr(Schema.String),
  status: Schema.Literal("active", "completed", "device_returned"),
  notes: Schema.NullOr(Schema.String),
}).annotations({ identifier: "Assignment" });

export const AssignResponse = Schema.Struct({
  status: Schema.Literal("success"),
  // Null only for a commit that started none, which assign and reassign never make.
  assignment: Schema.NullOr(AssignmentView),
}).annotations({ identifier: "AssignResponse" });

export const UnassignResponse = Schema.Struct({
  status: Schema.Literal("device unassigned"),
}).annotations({ identifier: "UnassignResponse" });

export const DevicePatientResponse = Schema.Struct({
  device_id: Schema.String,
  patient: Schema.NullOr(
    Schema.Struct({
      patient_id: Schema.String,
      patient_name: Schema.NullOr(Schema.String),
      assignment_timestamp: Time,
      assigned_by: Schema.String,
      notes: Schema.NullOr(Schema.String),
    }),
  ),
}).annotations({ identifier: "DevicePatient" });

export const AuditTrailResponse = Schema.Struct({
  device_id: Schema.String,
  assignments: Schema.Array(AssignmentView).annotations({ description: "newest first" }),
}).annotations({ identifier: "AuditTrail" });

export const PatientDevicesResponse = Schema.Struct({
  patient_id: Schema.String,
  devices: Schema.Array(AssignmentView),
}).annotations({ identifier: "PatientDevices" });

/** One sample of a timeline page, as documented. */
export const SampleFields = Schema.Struct({
  device_id: Schema.String,
  timestamp: Time,
  accel_x: Schema.Number,
  accel_y: Schema.Number,
  accel_z: Schema.Number,
  magnitude: Schema.Number,
  temperature: optional(Schema.Number),
  sequence: Schema.Number,
});
type SampleFields = typeof SampleFields.Type;

const isNumber = (v: unknown): v is number => typeof v === "number";
/** `EpochMillis`' own rule. */
const isTime = (v: unknown): boolean =>
  Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 8_640_000_000_000_000;

/**
 * `SampleFields` checked with plain comparisons: a page holds up to 10,000
 * samples, and the schema's parser costs about 2 µs each (20 ms a page). A
 * property test checks it accepts exactly what `SampleFields` accepts; the
 * OpenAPI document shows `SampleFields`.
 */
export const isSampleView = (u: unknown): u is SampleFields => {
  if (typeof u !== "object" || u === null) return false;
  const o = u as Record<string, unknown>;
  return (
    typeof o.device_id === "string" &&
    isNumber(o.accel_x) &&
    isNumber(o.accel_y) &&
    isNumber(o.accel_z) &&
    isNumber(o.magnitude) &&
    isNumber(o.sequence) &&
    (!("temperature" in o) || isNumber(o.temperature)) &&
    isTime(o.timestamp)
  );
};

export const SampleView = Schema.declare(isSampleView, {
  identifier: "Sample",
  jsonSchema: jsonSchemaOf(SampleFields),
});

export const HealthResponse = Schema.Struct({ status: Schema.Literal("ok") });

export const SensorDataResponse = Schema.Struct({
  patient_id: Schema.String,
  data: Schema.Array(SampleView),
  count: Schema.Number,
  next_cursor: Schema.NullOr(Schema.String),
}).annotations({ identifier: "SensorDataPage" });

export const ProblemView = Schema.Struct({
  type: Schema.String,
  title: Schema.String,
  status: Schema.Number,
  detail: optional(Schema.String),
  errors: optional(Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))),
  device_id: optional(Schema.String),
  current_patient_id: optional(
    Schema.String.annotations({ description: "409 device-already-assigned: who wears it" }),
  ),
  assigned_since: optional(
    Schema.Number.annotations({
      description: "409 device-already-assigned: since when, epoch milliseconds",
    }),
  ),
  last_event_at: optional(
    Schema.Number.annotations({
      description: "422 time-before-last-event: the device's last event, epoch milliseconds",
    }),
  ),
  alert_id: optional(
    Schema.String.annotations({ description: "404 alert-not-found: the id asked for" }),
  ),
  max_skew_ms: optional(
    Schema.Number.annotations({
      description: "422 time-in-future: how far ahead of the server's clock a time may be",
    }),
  ),
}).annotations({ identifier: "Problem" });

// The fleet: devices' presence and status, data-gap alerts.
const PageLimit = Schema.NumberFromString.pipe(
  Schema.compose(
    Schema.Number.pipe(
      Schema.int(),
      Schema.between(1, 500, { message: () => "limit must be between 1 and 500" }),
    ),
  ),
);

export const FleetDevicesQuery = Schema.Struct({
  status: optional(
    FleetFilter.annotations({
      description:
        "available: nobody wears it; assigned: someone does; offline: not connected; alert: an open data-gap alert",
    }),
  ),
  limit: optional(PageLimit),
  cursor: optional(Schema.String),
});

export const AlertsQuery = Schema.Struct({
  limit: optional(PageLimit),
  cursor: optional(Schema.String),
});

export const AlertView = Schema.Struct({
  alert_id: AlertId,
  kind: Schema.Literal("data-gap"),
  device_id: Schema.String,
  patient_id: Schema.String,
  assignment_start: Time,
  /** The newest sample's time when the gap was found (or the assignment's start). */
  since: Time,
  raised_at: Time,
  closed_at: Schema.NullOr(Time),
  close_reason: Schema.NullOr(Schema.Literal("data-resumed", "assignment-ended")),
  acknowledged_at: Schema.NullOr(Time),
  acknowledged_by: Schema.NullOr(Schema.String),
}).annotations({ identifier: "Alert" });

export const FleetDeviceView = Schema.Struct({
  device_id: Schema.String,
  connected: Schema.Boolean,
  /** Now while connected, else when it disconnected; null if never seen. */
  last_seen: Schema.NullOr(Time),
  /** The device's newest stored sample; null if none. */
  last_sample: Schema.NullOr(Time),
  last_connected_at: Schema.NullOr(Time),
  last_disconnected_at: Schema.NullOr(Time),
  /** AWS IoT's reason for the last disconnect (e.g. CONNECTION_LOST). */
  disconnect_reason: Schema.NullOr(Schema.String),
  assignment: Schema.NullOr(
    Schema.Struct({
      patient_id: Schema.String,
      patient_name: Schema.NullOr(Schema.String),
      assigned_by: Schema.String,
      assignment_timestamp: Time,
    }),
  ),
  open_alerts: Schema.Array(AlertView),
}).annotations({ identifier: "FleetDevice" });

export const FleetDevicesResponse = Schema.Struct({
  devices: Schema.Array(FleetDeviceView),
  count: Schema.Number,
  next_cursor: Schema.NullOr(Schema.String),
}).annotations({ identifier: "FleetDevicesPage" });

export const FleetDeviceDetailResponse = Schema.Struct({
  ...FleetDeviceView.fields,
  /** The device's latest alerts, open or closed, newest first. */
  recent_alerts: Schema.Array(AlertView),
}).annotations({ identifier: "FleetDeviceDetail" });

export const AlertsResponse = Schema.Struct({
  alerts: Schema.Array(AlertView),
  count: Schema.Number,
  next_cursor: Schema.NullOr(Schema.String),
}).annotations({ identifier: "AlertsPage" });

export const AlertResponse = Schema.Struct({ alert: AlertView }).annotations({
  identifier: "AlertResponse",
});
