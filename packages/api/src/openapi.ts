import { DeviceId, PatientId } from "@medusa/domain";
import { Schema } from "effect";
import { type JsonSchema, jsonSchemaOf } from "./json-schema.js";
import {
  ActivityDailyQuery,
  ActivityDailyResponse,
  ActivityQuery,
  ActivityResponse,
  AssignBody,
  AssignResponse,
  AuditTrailResponse,
  DevicePatientResponse,
  HealthResponse,
  PatientDevicesQuery,
  PatientDevicesResponse,
  ProblemView,
  ReassignBody,
  SensorDataBody,
  SensorDataQuery,
  SensorDataResponse,
  UnassignBody,
  UnassignQuery,
  UnassignResponse,
} from "./schemas.js";

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
const idempotency = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description: "a retried request with the same key returns the first result and appends nothing",
  schema: { type: "string", maxLength: 200 },
};
const device = pathParameter("device_id", DeviceId);
const patient = pathParameter("patient_id", PatientId);

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
        summary: "The device's audit trail, newest first",
        parameters: [device],
        responses: {
          "200": ok("assignments", AuditTrailResponse),
          ...problems(400, 401, 403, 503),
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
          "200": ok("a page of samples", SensorDataResponse),
          ...problems(400, 401, 403, 503),
        },
      },
      post: {
        summary: "The same, with the fields in a JSON body (the old form)",
        parameters: [patient],
        requestBody: { required: true, content: json(SensorDataBody) },
        responses: {
          "200": ok("a page of samples", SensorDataResponse),
          ...problems(400, 401, 403, 413, 503),
        },
      },
    },
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
