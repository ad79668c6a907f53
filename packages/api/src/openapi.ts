import { AlertId, DeviceId, PatientId } from "@medusa/domain";
import { Schema } from "effect";
import { fhirPaths } from "./fhir/openapi.js";
import { type JsonSchema, jsonSchemaOf } from "./json-schema.js";
import {
  ActivityDailyQuery,
  ActivityDailyResponse,
  ActivityQuery,
  ActivityResponse,
  AlertResponse,
  AlertsQuery,
  AlertsResponse,
  AmendBody,
  AssignBody,
  AssignmentsQuery,
  AssignResponse,
  AuditTrailResponse,
  ConfigurationBody,
  CorrectionResponse,
  CorrectPatientBody,
  DesiredWriteResponse,
  DeviceConfigurationResponse,
  DeviceJobBody,
  DeviceJobResponse,
  DeviceJobsResponse,
  DevicePatientResponse,
  FleetDeviceDetailResponse,
  FleetDevicesQuery,
  FleetDevicesResponse,
  HealthResponse,
  LiveModeBody,
  PatientDevicesQuery,
  PatientDevicesResponse,
  ProblemView,
  ReassignBody,
  RecordAsOfResponse,
  RetractBody,
  SensorDataBody,
  SensorDataQuery,
  SensorDataResponse,
  Since,
  UnassignBody,
  UnassignQuery,
  UnassignResponse,
} from "./schemas.js";
import { ARROW_STREAM } from "./timeline-arrow.js";

/**
 * Query parameters from the schema the route decodes its query with: one per
 * field, typed as the decoded value (a `NumberFromString` field is an integer
 * to the client).
 */
export const queryParameters = (s: Schema.Schema.Any) => {
  const object = jsonSchemaOf(Schema.typeSchema(s)) as {
    properties: Record<string, JsonSchema>;
    required?: Array<string>;
  };
  return Object.entries(object.properties).map(([name, schema]) => ({
    name,
    in: "query",
    required: object.required?.includes(name) ?? false,
    ...(typeof schema.description === "string" ? { description: schema.description } : {}),
    schema,
  }));
};

const pathParameter = (name: string, s: Schema.Schema.Any) => ({
  name,
  in: "path",
  required: true,
  schema: jsonSchemaOf(s),
});

const json = (s: Schema.Schema.Any) => ({ "application/json": { schema: jsonSchemaOf(s) } });
const problems = (...statuses: Array<number>) =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: "an RFC 9457 problem",
        content: { "application/problem+json": { schema: jsonSchemaOf(ProblemView) } },
      },
    ]),
  );
const ok = (description: string, s: Schema.Schema.Any) => ({ description, content: json(s) });
/** A page of samples: JSON, or with `Accept: application/vnd.apache.arrow.stream` an Arrow IPC stream. */
const samplesPage = {
  description:
    "a page of samples. With Accept: application/vnd.apache.arrow.stream, an Apache Arrow IPC stream of the same samples: columns timestamp (Timestamp ms UTC), device_id (dictionary-encoded Utf8), accel_x, accel_y, accel_z, magnitude (Float64, g), temperature (nullable Float64, °C), sequence (Int64); the schema's metadata holds patient_id, count and next_cursor (absent on the last page), which is also in X-Next-Cursor. Any other Accept gets JSON; errors are problem+json either way.",
  headers: {
    "X-Next-Cursor": {
      description: "Arrow only: the cursor of the next page; absent on the last page",
      schema: { type: "string" },
    },
  },
  content: {
    ...json(SensorDataResponse),
    [ARROW_STREAM]: { schema: { type: "string", contentMediaType: ARROW_STREAM } },
  },
};
const idempotency = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description: "a retried request with the same key returns the first result and appends nothing",
  schema: { type: "string", maxLength: 200 },
};
const device = pathParameter("device_id", DeviceId);
const ifNoneMatch = {
  name: "If-None-Match",
  in: "header",
  required: false,
  description: "the ETag of the page the client holds: 304 with no body when it still holds",
  schema: { type: "string" },
};
const notModified = { "304": { description: "unchanged since the ETag given in If-None-Match" } };
const patient = pathParameter("patient_id", PatientId);
const since = {
  ...pathParameter("since", Schema.typeSchema(Since)),
  description:
    "the corrected assignment's start as it stands (its assignment_timestamp), epoch milliseconds",
};
/** A correction of the record (clinician): who from the token, why in the body, refused with a problem. */
const correctionOperation = (summary: string, body: Schema.Schema.Any) => ({
  post: {
    summary,
    parameters: [device, since, idempotency],
    requestBody: { required: true, content: json(body) },
    responses: {
      "200": ok("corrected: the assignments as they now stand", CorrectionResponse),
      ...problems(400, 401, 403, 404, 409, 413, 422, 503),
    },
  },
});

/**
 * The OpenAPI 3.1 document, generated from the same schemas the routes
 * validate their bodies, query parameters and path parameters with
 * (`schemas.ts`; the test checks that every route is here and the schemas
 * agree).
 */
export const openApiDocument = () => ({
  openapi: "3.1.0",
  info: {
    title: "MeDUSA Link API",
    version: "1.0.0",
    description:
      "Assign wearable motion sensors to patients, read the audit trail and patients' timelines. All times are Unix epoch milliseconds (UTC).",
  },
  components: {
    securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
  },
  security: [{ bearer: [] }],
  paths: {
    "/healthz": {
      get: { summary: "Liveness", security: [], responses: { "200": ok("alive", HealthResponse) } },
    },
    "/openapi.json": {
      get: {
        summary: "This document",
        security: [],
        responses: { "200": { description: "OpenAPI 3.1" } },
      },
    },
    "/api/devices/assign": {
      post: {
        summary: "Assign a device to a patient (clinician)",
        parameters: [idempotency],
        requestBody: { required: true, content: json(AssignBody) },
        responses: {
          "201": ok("assigned", AssignResponse),
          ...problems(400, 401, 403, 409, 413, 422, 503),
        },
      },
    },
    "/api/devices/unassign": {
      post: {
        summary:
          "End a patient's assignment of a device (clinician); the fields as a JSON body or, as the old route took them, query parameters",
        // Either all fields as query parameters or all in the body: none is required on its own.
        parameters: [
          idempotency,
          ...queryParameters(UnassignQuery).map((p) => ({ ...p, required: false })),
        ],
        requestBody: { required: false, content: json(UnassignBody) },
        responses: {
          "200": ok("device unassigned", UnassignResponse),
          ...problems(400, 401, 403, 404, 409, 413, 422, 503),
        },
      },
    },
    "/api/devices/reassign": {
      post: {
        summary: "End the current assignment and start the next, in one commit (clinician)",
        parameters: [idempotency],
        requestBody: { required: true, content: json(ReassignBody) },
        responses: {
          "201": ok("reassigned", AssignResponse),
          ...problems(400, 401, 403, 404, 409, 413, 422, 503),
        },
      },
    },
    "/api/devices/{device_id}/patient": {
      get: {
        summary: "Who wears the device now",
        parameters: [device],
        responses: {
          "200": ok("the current patient, or null", DevicePatientResponse),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    "/api/devices/{device_id}/assignments": {
      get: {
        summary:
          "The device's audit trail, newest first: the corrected intervals, a retracted assignment marked entered_in_error; with as_of, the record as it stood at that recorded time (RecordAsOf), each correction beside what it corrected",
        parameters: [device, ...queryParameters(AssignmentsQuery)],
        responses: {
          "200": {
            description: "assignments (AuditTrail; RecordAsOf with as_of)",
            content: {
              "application/json": {
                schema: {
                  oneOf: [jsonSchemaOf(AuditTrailResponse), jsonSchemaOf(RecordAsOfResponse)],
                },
              },
            },
          },
          ...problems(400, 401, 403, 503),
        },
      },
    },
    "/api/devices/{device_id}/assignments/{since}/retract": correctionOperation(
      "Retract an assignment entered in error: it never happened; its samples go to whichever assignment truly covered them, or to nobody (clinician)",
      RetractBody,
    ),
    "/api/devices/{device_id}/assignments/{since}/correct-patient": correctionOperation(
      "Correct the patient of a past or current assignment: its samples move to the right patient (clinician)",
      CorrectPatientBody,
    ),
    "/api/devices/{device_id}/assignments/{since}/amend": correctionOperation(
      "Amend the period of an assignment (start and/or end; move_adjoining moves a hand-over's other side too): samples move with the boundaries (clinician)",
      AmendBody,
    ),
    "/api/devices/{device_id}/configuration": {
      get: {
        summary:
          "The device's configuration through its shadow: the settings asked of it, its last report, what is pending and what it refused",
        parameters: [device],
        responses: {
          "200": ok("the device's configuration", DeviceConfigurationResponse),
          ...problems(400, 401, 403, 404, 503),
        },
      },
      patch: {
        summary:
          "Ask the device for durable settings (clinician): merged into its shadow's desired state; the device takes them when it next hears from its shadow, keeps them across restarts and reports them",
        parameters: [device],
        requestBody: { required: true, content: json(ConfigurationBody) },
        responses: {
          "202": ok("stored in the shadow", DesiredWriteResponse),
          ...problems(400, 401, 403, 409, 413, 422, 503),
        },
      },
    },
    "/api/devices/{device_id}/jobs": {
      post: {
        summary:
          "Create a job for the device (clinician): config.set (settings as the configuration route takes them), agent.restart, agent.update (version, bundle_key, sha256), outbox.flush or certificate.rotate (a new key made on the device, the old certificate deactivated once the new one connected; refused 422 where no rotation template is configured); the device runs it when it next hears from AWS IoT Jobs and reports its outcome",
        parameters: [device],
        requestBody: { required: true, content: json(DeviceJobBody) },
        responses: {
          "201": ok("the job, queued", DeviceJobResponse),
          ...problems(400, 401, 403, 404, 422, 503),
        },
      },
      get: {
        summary:
          "The device's jobs, newest first, with their status and what the device said (status_details); a weak ETag, 304 to If-None-Match while the list is unchanged",
        parameters: [device, ifNoneMatch],
        responses: {
          "200": ok("the device's jobs", DeviceJobsResponse),
          ...notModified,
          ...problems(400, 401, 403, 503),
        },
      },
    },
    "/api/devices/{device_id}/live": {
      post: {
        summary:
          "Live mode (clinician): publish every interval_ms (default 1000) for duration_s (default 300, at most 3600), then the device's own interval again, by itself",
        parameters: [device],
        requestBody: { required: false, content: json(LiveModeBody) },
        responses: {
          "202": ok("stored in the shadow", DesiredWriteResponse),
          ...problems(400, 401, 403, 409, 413, 422, 503),
        },
      },
      delete: {
        summary: "End live mode now (clinician)",
        parameters: [device],
        responses: {
          "202": ok("stored in the shadow", DesiredWriteResponse),
          ...problems(400, 401, 403, 404, 409, 503),
        },
      },
    },
    "/api/devices": {
      get: {
        summary:
          "The fleet: each device's assignment, presence (connected, last seen), last sample and open alerts, a page at a time (status= filters)",
        parameters: [...queryParameters(FleetDevicesQuery), ifNoneMatch],
        responses: {
          "200": ok("a page of devices", FleetDevicesResponse),
          ...notModified,
          ...problems(400, 401, 403, 503),
        },
      },
    },
    "/api/devices/{device_id}": {
      get: {
        summary: "One device's status, with its latest alerts",
        parameters: [device],
        responses: {
          "200": ok("the device", FleetDeviceDetailResponse),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    "/api/alerts": {
      get: {
        summary: "The open data-gap alerts, newest first",
        parameters: [...queryParameters(AlertsQuery), ifNoneMatch],
        responses: {
          "200": ok("a page of open alerts", AlertsResponse),
          ...notModified,
          ...problems(400, 401, 403, 503),
        },
      },
    },
    "/api/alerts/{alert_id}/acknowledge": {
      post: {
        summary:
          "Acknowledge an alert (clinician); it stays open until data resumes, and a second acknowledgement keeps the first",
        parameters: [pathParameter("alert_id", AlertId)],
        responses: {
          "200": ok("the alert", AlertResponse),
          ...problems(400, 401, 403, 404, 503),
        },
      },
    },
    "/api/patients/{patient_id}/devices": {
      get: {
        summary: "The patient's active devices (include=history: every device ever worn)",
        parameters: [patient, ...queryParameters(PatientDevicesQuery)],
        responses: {
          "200": ok("devices", PatientDevicesResponse),
          ...problems(400, 401, 403, 503),
        },
      },
    },
    "/api/patients/{patient_id}/sensor-data": {
      get: {
        summary:
          "The patient's samples from every device they wore, only inside their own intervals, in [start_time, end_time)",
        parameters: [patient, ...queryParameters(SensorDataQuery)],
        responses: {
          "200": samplesPage,
          ...problems(400, 401, 403, 503),
        },
      },
      post: {
        summary: "The same, with the fields in a JSON body (the old form)",
        parameters: [patient],
        requestBody: { required: true, content: json(SensorDataBody) },
        responses: {
          "200": samplesPage,
          ...problems(400, 401, 403, 413, 503),
        },
      },
    },
    ...fhirPaths,
    "/api/patients/{patient_id}/activity": {
      get: {
        summary:
          "The patient's activity per epoch (ENMO, MAD, coverage, wear, intensity, steps) from every device, epochs starting in [start_time, end_time); Accept: text/csv for a download",
        parameters: [patient, ...queryParameters(ActivityQuery)],
        responses: {
          "200": {
            description: "a page of epochs (CSV: the cursor of the next page in X-Next-Cursor)",
            content: { ...json(ActivityResponse), "text/csv": { schema: { type: "string" } } },
          },
          ...problems(400, 401, 403, 503),
        },
      },
    },
    "/api/patients/{patient_id}/activity/daily": {
      get: {
        summary:
          "The patient's activity per local day (wear minutes, minutes per intensity class, steps, mean ENMO, coverage, devices worn); Accept: text/csv for a download",
        parameters: [patient, ...queryParameters(ActivityDailyQuery)],
        responses: {
          "200": {
            description: "one summary per day",
            content: { ...json(ActivityDailyResponse), "text/csv": { schema: { type: "string" } } },
          },
          ...problems(400, 401, 403, 503),
        },
      },
    },
  },
});
