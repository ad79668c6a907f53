import { JSONSchema, type Schema } from "effect";
import {
  AssignBody,
  AssignmentView,
  ProblemView,
  ReassignBody,
  SensorDataBody,
  SensorDataResponse,
  UnassignBody,
} from "./schemas.js";

/** JSON Schema of an Effect schema, inlined (OpenAPI 3.1 uses JSON Schema 2020-12). */
const schema = (s: Schema.Schema.Any) => {
  const document: Record<string, unknown> = {
    ...JSONSchema.make(s, { target: "jsonSchema2020-12" }),
  };
  delete document.$schema;
  return document;
};

const json = (s: Schema.Schema.Any) => ({ "application/json": { schema: schema(s) } });
const problems = (...statuses: Array<number>) =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: "problem",
        content: { "application/problem+json": { schema: schema(ProblemView) } },
      },
    ]),
  );
const ok = (description: string, s?: Schema.Schema.Any) => ({
  description,
  ...(s ? { content: json(s) } : {}),
});
const idempotency = {
  name: "Idempotency-Key",
  in: "header",
  required: false,
  description: "a retried request with the same key returns the first result and appends nothing",
  schema: { type: "string", maxLength: 200 },
};
const path = (name: string) => ({ name, in: "path", required: true, schema: { type: "string" } });
const timeParam = (name: string) => ({
  name,
  in: "query",
  required: true,
  description: "Unix epoch milliseconds (UTC)",
  schema: { type: "integer" },
});

/** The OpenAPI 3.1 document, generated from the same schemas the routes validate with. */
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
    "/healthz": { get: { security: [], responses: { "200": ok("alive") } } },
    "/api/devices/assign": {
      post: {
        summary: "Assign a device to a patient",
        parameters: [idempotency],
        requestBody: { required: true, content: json(AssignBody) },
        responses: { "201": ok("assigned"), ...problems(400, 401, 403, 409, 413, 422, 503) },
      },
    },
    "/api/devices/unassign": {
      post: {
        summary: "End a patient's assignment of a device (JSON body or query parameters)",
        parameters: [idempotency],
        requestBody: { required: false, content: json(UnassignBody) },
        responses: {
          "200": ok("device unassigned"),
          ...problems(400, 401, 403, 404, 409, 422, 503),
        },
      },
    },
    "/api/devices/reassign": {
      post: {
        summary: "End the current assignment and start the next, in one commit",
        parameters: [idempotency],
        requestBody: { required: true, content: json(ReassignBody) },
        responses: { "201": ok("reassigned"), ...problems(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    "/api/devices/{device_id}/patient": {
      get: {
        summary: "Who wears the device now",
        parameters: [path("device_id")],
        responses: { "200": ok("the current patient, or null"), ...problems(400, 401, 503) },
      },
    },
    "/api/devices/{device_id}/assignments": {
      get: {
        summary: "The device's audit trail, newest first",
        parameters: [path("device_id")],
        responses: { "200": ok("assignments", AssignmentView), ...problems(400, 401, 503) },
      },
    },
    "/api/patients/{patient_id}/devices": {
      get: {
        summary: "The patient's active devices (include=history: every device ever worn)",
        parameters: [
          path("patient_id"),
          { name: "include", in: "query", required: false, schema: { enum: ["history"] } },
        ],
        responses: { "200": ok("devices"), ...problems(400, 401, 503) },
      },
    },
    "/api/patients/{patient_id}/sensor-data": {
      get: {
        summary:
          "The patient's samples from every device they wore, only inside their own intervals",
        parameters: [
          path("patient_id"),
          timeParam("start_time"),
          timeParam("end_time"),
          {
            name: "limit",
            in: "query",
            required: false,
            schema: { type: "integer", minimum: 1, maximum: 10000 },
          },
          { name: "cursor", in: "query", required: false, schema: { type: "string" } },
        ],
        responses: {
          "200": ok("a page of samples", SensorDataResponse),
          ...problems(400, 401, 503),
        },
      },
      post: {
        summary: "The same, with the fields in a JSON body (the old form)",
        parameters: [path("patient_id")],
        requestBody: { required: true, content: json(SensorDataBody) },
        responses: {
          "200": ok("a page of samples", SensorDataResponse),
          ...problems(400, 401, 503),
        },
      },
    },
  },
});
