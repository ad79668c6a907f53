import {
  DeviceId,
  EndReason,
  EpochLength,
  EpochMillis,
  IntensityClass,
  LocalDate,
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
  max_skew_ms: optional(
    Schema.Number.annotations({
      description: "422 time-in-future: how far ahead of the server's clock a time may be",
    }),
  ),
}).annotations({ identifier: "Problem" });

// Activity (issue 17).
const Ms = Schema.Number.annotations({ description: "Unix epoch milliseconds (UTC)" });
export const ActivityQuery = Schema.Struct({
  start_time: TimeFromString,
  end_time: TimeFromString,
  epoch_ms: optional(
    Schema.NumberFromString.pipe(Schema.compose(EpochLength)).annotations({
      description: "epoch length: 5000 to 60000 ms dividing a minute (60000 unless given)",
    }),
  ),
  limit: optional(Schema.NumberFromString.pipe(Schema.compose(Limit))),
  cursor: optional(Schema.String),
});

const DateParam = LocalDate.annotations({ description: "a calendar date, YYYY-MM-DD" });

export const ActivityDailyQuery = Schema.Struct({
  start_date: DateParam,
  end_date: DateParam,
  tz: optional(
    Schema.String.annotations({ description: "IANA time zone of the days (UTC unless given)" }),
  ),
});

export const ActivityEpochView = Schema.Struct({
  time: Ms,
  epoch_ms: Schema.Number,
  device_id: Schema.String,
  enmo_mg: Schema.Number,
  mad_mg: Schema.Number,
  samples: Schema.Number,
  expected_samples: Schema.Number,
  coverage: Schema.Number,
  wear: Schema.Boolean,
  intensity: Schema.NullOr(IntensityClass),
  steps: Schema.Number,
  cadence_spm: Schema.Number,
}).annotations({ identifier: "ActivityEpoch" });

export const ActivityResponse = Schema.Struct({
  patient_id: Schema.String,
  epochs: Schema.Array(ActivityEpochView),
  count: Schema.Number,
  next_cursor: Schema.NullOr(Schema.String),
  algorithms: Schema.Record({ key: Schema.String, value: Schema.String }),
}).annotations({ identifier: "ActivityPage" });

export const ActivityDayView = Schema.Struct({
  date: Schema.String,
  start_time: Ms,
  end_time: Ms,
  wear_minutes: Schema.Number,
  sedentary_minutes: Schema.Number,
  light_minutes: Schema.Number,
  moderate_minutes: Schema.Number,
  vigorous_minutes: Schema.Number,
  steps: Schema.Number,
  mean_enmo_mg: Schema.NullOr(Schema.Number),
  coverage: Schema.Number,
  devices: Schema.Array(Schema.String),
}).annotations({ identifier: "ActivityDay" });

export const ActivityDailyResponse = Schema.Struct({
  patient_id: Schema.String,
  time_zone: Schema.String,
  days: Schema.Array(ActivityDayView),
  algorithms: Schema.Record({ key: Schema.String, value: Schema.String }),
}).annotations({ identifier: "ActivityDays" });
