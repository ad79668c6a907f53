import {
  AlertId,
  ConfigurationChange,
  CorrectionNote,
  CorrectionReason,
  CutPointSetName,
  DeviceId,
  EndReason,
  EpochLength,
  EpochMillis,
  FleetFilter,
  IntensityClass,
  LiveIntervalMs,
  LocalDate,
  MAX_LIVE_DURATION_MS,
  Notes,
  PatientId,
  PatientName,
  ReportedDeviceState,
  SettingRefusal,
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

// Corrections of the record (issue 18): the assignment is named in the path by its start.

/** The `{since}` path parameter: the corrected assignment's start as it stands (its `assignment_timestamp`). */
export const Since = TimeFromString;

const Reason = CorrectionReason.annotations({
  description:
    "why, as a code: wrong_patient, wrong_device, wrong_time, not_worn, duplicate, other",
});
const Note = CorrectionNote.annotations({ description: "why, in words (required)" });

export const RetractBody = Schema.Struct({
  reason: Reason,
  note: Note,
}).annotations({ identifier: "RetractRequest" });

export const CorrectPatientBody = Schema.Struct({
  /** The patient who truly wore the device for that period. */
  patient_id: PatientId,
  patient_name: optional(PatientName),
  reason: Reason,
  note: Note,
}).annotations({ identifier: "CorrectPatientRequest" });

export const AmendBody = Schema.Struct({
  /** The true start; unchanged when absent. */
  assignment_timestamp: optional(Time),
  /** The true end of an ended assignment; unchanged when absent. */
  assignment_end: optional(Time),
  /** A hand-over: the adjoining assignment's boundary moves with this one, in the same commit. */
  move_adjoining: optional(
    Schema.Boolean.annotations({
      description:
        "move the adjoining assignment's boundary too (a hand-over recorded at the wrong time)",
    }),
  ),
  reason: Reason,
  note: Note,
}).annotations({ identifier: "AmendRequest" });

export const AssignmentsQuery = Schema.Struct({
  /** A recorded time: the trail as it stood then. */
  as_of: optional(
    TimeFromString.annotations({
      description:
        "the record as it stood at this recorded time (what was believed then); now when absent",
    }),
  ),
});

// Responses (for the OpenAPI document).

/** Who corrected an assignment last, when it was recorded, and why. */
export const CorrectionView = Schema.Struct({
  corrected_by: Schema.String,
  corrected_at: Time,
  reason: Schema.String,
  note: Schema.String,
}).annotations({ identifier: "Correction" });

export const AssignmentView = Schema.Struct({
  device_id: Schema.String,
  patient_id: Schema.String,
  patient_name: Schema.NullOr(Schema.String),
  assigned_by: Schema.String,
  assignment_timestamp: Time,
  assignment_end: Schema.NullOr(Time),
  ended_by: Schema.NullOr(Schema.String),
  status: Schema.Literal("active", "completed", "device_returned", "entered_in_error"),
  notes: Schema.NullOr(Schema.String),
  /** Present on a corrected assignment only: its latest correction. */
  correction: optional(CorrectionView),
}).annotations({ identifier: "Assignment" });

/** One correction beside the assignment it corrected, in the record as of a time. */
export const RecordedCorrectionView = Schema.Struct({
  kind: Schema.Literal("retracted", "patient_corrected", "period_amended"),
  corrected_by: Schema.String,
  corrected_at: Time,
  reason: Schema.String,
  note: Schema.String,
  /** The assignment as it stood before: whose, and its period. */
  before: Schema.Struct({
    patient_id: Schema.String,
    assignment_timestamp: Time,
    assignment_end: Schema.NullOr(Time),
  }),
  /** And after; null for a retraction. */
  after: Schema.NullOr(
    Schema.Struct({
      patient_id: Schema.String,
      assignment_timestamp: Time,
      assignment_end: Schema.NullOr(Time),
    }),
  ),
}).annotations({ identifier: "RecordedCorrection" });

export const RecordedAssignmentView = Schema.Struct({
  ...AssignmentView.fields,
  /** When the assignment was recorded. */
  recorded_at: Time,
  /** When its end was recorded; null while it lasts. */
  end_recorded_at: Schema.NullOr(Time),
  corrections: Schema.Array(RecordedCorrectionView).annotations({ description: "oldest first" }),
}).annotations({ identifier: "RecordedAssignment" });

export const RecordAsOfResponse = Schema.Struct({
  device_id: Schema.String,
  as_of: Time,
  assignments: Schema.Array(RecordedAssignmentView).annotations({
    description: "every assignment recorded by as_of, newest first, as it stood then",
  }),
}).annotations({ identifier: "RecordAsOf" });

export const CorrectionResponse = Schema.Struct({
  status: Schema.Literal("corrected"),
  /** The assignments the correction changed, as they stand now (a hand-over amended: both). */
  assignments: Schema.Array(AssignmentView),
}).annotations({ identifier: "CorrectionResponse" });

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
  shadow_code: optional(
    Schema.Number.annotations({
      description:
        "the device shadow service's own code when it refused a change (400, 409, 413, 429)",
    }),
  ),
}).annotations({ identifier: "Problem" });

// Device configuration through the device shadow (issue 16).

/** A change of a device's durable settings: the configuration file's tables and keys, each with its rule. */
export const ConfigurationBody = ConfigurationChange.pipe(
  Schema.filter(
    (c) =>
      c.sensor?.sample_rate_hz !== undefined ||
      c.publish?.interval_ms !== undefined ||
      c.publish?.status_interval_ms !== undefined ||
      "name at least one setting: sensor.sample_rate_hz, publish.interval_ms or publish.status_interval_ms",
  ),
).annotations({ identifier: "ConfigurationChange" });

export const LiveModeBody = Schema.Struct({
  /** The publish interval while live mode lasts; 1000 when absent. */
  interval_ms: optional(LiveIntervalMs),
  /** How long live mode lasts; 300 s when absent, at most an hour. */
  duration_s: optional(
    Schema.Number.pipe(
      Schema.int({ message: () => "duration_s must be a whole number" }),
      Schema.between(1, MAX_LIVE_DURATION_MS / 1000, {
        message: () => `duration_s must be between 1 and ${MAX_LIVE_DURATION_MS / 1000}`,
      }),
    ),
  ),
}).annotations({ identifier: "LiveModeRequest" });

const Settings = Schema.Struct({
  sensor: optional(Schema.Struct({ sample_rate_hz: optional(Schema.Number) })),
  publish: optional(
    Schema.Struct({
      interval_ms: optional(Schema.Number),
      status_interval_ms: optional(Schema.Number),
      live_interval_ms: optional(Schema.Number),
      live_until: optional(
        Schema.Number.annotations({ description: "Unix epoch milliseconds (UTC)" }),
      ),
    }),
  ),
});

/** What a change was stored as: the shadow's version and the desired settings written. */
export const DesiredWriteResponse = Schema.Struct({
  device_id: Schema.String,
  version: Schema.Number,
  desired: Settings,
}).annotations({ identifier: "DesiredConfiguration" });

export const DeviceConfigurationResponse = Schema.Struct({
  device_id: Schema.String,
  version: Schema.Number.annotations({ description: "the shadow's version" }),
  desired: Settings.annotations({ description: "the valid settings asked of the device" }),
  reported: Schema.NullOr(ReportedDeviceState).annotations({
    description: "the device's last report; null before its first",
  }),
  pending: Schema.Array(Schema.String).annotations({
    description: "settings asked for and not (yet) reported as taken",
  }),
  refused: Schema.Array(SettingRefusal).annotations({
    description: "desired values the device refused, with its reasons",
  }),
  desired_at: Schema.NullOr(Schema.Number).annotations({
    description: "the desired state's last change, epoch milliseconds (second resolution)",
  }),
  reported_at: Schema.NullOr(Schema.Number).annotations({
    description: "the device's last report, epoch milliseconds (second resolution)",
  }),
}).annotations({ identifier: "DeviceConfiguration" });
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
  /**
   * What the device's shadow last reported, in short (agent_version, sensor_model,
   * sample_rate_hz, publish_interval_ms, outbox_depth, reported_at, shadow_version, …);
   * null until it reports.
   */
  reported: Schema.NullOr(
    Schema.Record({
      key: Schema.String,
      value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean, Schema.Null),
    }),
  ),
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
// Activity (issue 17).
const Ms = Schema.Number.annotations({ description: "Unix epoch milliseconds (UTC)" });
/**
 * The most epochs an activity page holds, and its default: a week of 60 s
 * epochs from three devices worn at once (3 × 10,080), so a patient's week is
 * one request even across device swaps. The page's JSON is also bounded in
 * bytes (`ACTIVITY_PAGE_BYTES`); what does not fit comes with the next cursor.
 */
export const ACTIVITY_MAX_PAGE = 30_240;
const ActivityLimit = Schema.Number.pipe(
  Schema.int(),
  Schema.between(1, ACTIVITY_MAX_PAGE, {
    message: () => `limit must be between 1 and ${ACTIVITY_MAX_PAGE}`,
  }),
).annotations({
  description: `epochs a page holds at most (1 to ${ACTIVITY_MAX_PAGE}, ${ACTIVITY_MAX_PAGE} unless given; a page also ends before its JSON passes about 4.5 MB)`,
});
export const ActivityQuery = Schema.Struct({
  start_time: TimeFromString,
  end_time: TimeFromString,
  epoch_ms: optional(
    Schema.NumberFromString.pipe(Schema.compose(EpochLength)).annotations({
      description: "epoch length: 5000 to 60000 ms dividing a minute (60000 unless given)",
    }),
  ),
  limit: optional(Schema.NumberFromString.pipe(Schema.compose(ActivityLimit))),
  cursor: optional(Schema.String),
  cut_points: optional(CutPointSetName),
});

const DateParam = LocalDate.annotations({ description: "a calendar date, YYYY-MM-DD" });

export const ActivityDailyQuery = Schema.Struct({
  start_date: DateParam,
  end_date: DateParam,
  tz: optional(
    Schema.String.annotations({ description: "IANA time zone of the days (UTC unless given)" }),
  ),
  cut_points: optional(CutPointSetName),
});

/** The cut-points a response's intensity classes used: the set's name, thresholds, source and wear position. */
export const CutPointsView = Schema.Struct({
  name: CutPointSetName,
  light_mg: Schema.Number,
  moderate_mg: Schema.Number,
  vigorous_mg: Schema.Number,
  source: Schema.String,
  position: Schema.String,
}).annotations({ identifier: "ActivityCutPoints" });

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
  cut_points: CutPointsView,
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
  cut_points: CutPointsView,
  algorithms: Schema.Record({ key: Schema.String, value: Schema.String }),
}).annotations({ identifier: "ActivityDays" });

const Sha256 = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{64}$/, { message: () => "sha256 must be 64 lower-case hex digits" }),
);
/** An S3 key (locally: a file name in the stack's bundles folder); no `..` segment. */
const BundleKey = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,254}$/, {
    message: () => "bundle_key must be 1-255 characters of [A-Za-z0-9._/-]",
  }),
  Schema.filter((k) => !k.split("/").includes("..") || "bundle_key must not contain '..'"),
);

/** `POST /api/devices/{device_id}/jobs`: one job, by type. */
export const DeviceJobBody = Schema.Union(
  Schema.Struct({ type: Schema.Literal("config.set"), settings: ConfigurationBody }),
  Schema.Struct({ type: Schema.Literal("agent.restart") }),
  Schema.Struct({
    type: Schema.Literal("agent.update"),
    version: Schema.String.pipe(
      Schema.pattern(/^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/, {
        message: () => "version must be 1-64 characters of [0-9A-Za-z.+-]",
      }),
    ),
    bundle_key: BundleKey,
    sha256: Sha256,
  }),
  Schema.Struct({ type: Schema.Literal("outbox.flush") }),
  Schema.Struct({ type: Schema.Literal("certificate.rotate") }),
).annotations({ identifier: "DeviceJobRequest" });

export const DeviceJobResponse = Schema.Struct({
  job_id: Schema.String,
  device_id: Schema.String,
  type: Schema.NullOr(
    Schema.Literal(
      "config.set",
      "agent.restart",
      "agent.update",
      "outbox.flush",
      "certificate.rotate",
    ),
  ),
  status: Schema.Literal(
    "QUEUED",
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "REJECTED",
    "REMOVED",
    "CANCELED",
  ),
  status_details: Schema.Record({ key: Schema.String, value: Schema.String }),
  queued_at: Schema.Number,
  started_at: Schema.NullOr(Schema.Number),
  last_updated_at: Schema.Number,
  version: Schema.NullOr(Schema.Number),
}).annotations({ identifier: "DeviceJob" });

export const DeviceJobsResponse = Schema.Struct({
  device_id: Schema.String,
  jobs: Schema.Array(DeviceJobResponse),
}).annotations({ identifier: "DeviceJobs" });
