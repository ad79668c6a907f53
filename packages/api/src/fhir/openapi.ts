import { MAX_COUNT } from "./search.js";

// The FHIR routes in the OpenAPI document. Their bodies are FHIR R4 resources,
// described by HL7's own schema (http://hl7.org/fhir/R4/fhir.schema.json), not this API's.

const fhirJson = (resource: string, description: string) => ({
  "application/fhir+json": {
    schema: {
      type: "object",
      description: `a FHIR R4 ${resource} (${description}); schema: http://hl7.org/fhir/R4/fhir.schema.json#/definitions/${resource}`,
      properties: { resourceType: { const: resource } },
      required: ["resourceType"],
    },
  },
});

const outcomes = (...statuses: Array<number>) =>
  Object.fromEntries(
    statuses.map((status) => [
      String(status),
      {
        description: "a FHIR OperationOutcome",
        content: fhirJson("OperationOutcome", "the error"),
      },
    ]),
  );

const query = (name: string, description: string, schema: object, required = false) => ({
  name,
  in: "query",
  required,
  description,
  schema,
});
const patient = query(
  "patient",
  "the patient's id, bare or as Patient/{id}",
  { type: "string", minLength: 1 },
  true,
);
const count = query("_count", `resources per page, 1 to ${MAX_COUNT} (default 100)`, {
  type: "integer",
  minimum: 1,
  maximum: MAX_COUNT,
});
const cursor = query("_cursor", "from the previous page's next link", { type: "string" });
const format = query("_format", "json or application/fhir+json (JSON only)", { type: "string" });

export const fhirPaths = {
  "/fhir/R4/metadata": {
    get: {
      summary: "FHIR R4 CapabilityStatement: what this FHIR server does (no token needed)",
      security: [],
      parameters: [format],
      responses: {
        "200": { description: "the statement", content: fhirJson("CapabilityStatement", "") },
        ...outcomes(400, 406),
      },
    },
  },
  "/fhir/R4/Device/{id}": {
    get: {
      summary: "A device as a FHIR Device (viewer)",
      parameters: [
        {
          name: "id",
          in: "path",
          required: true,
          description: "the device's FHIR id: its device id with _ written .u and : written .c",
          schema: { type: "string", pattern: "^[A-Za-z0-9\\-.]{1,64}$" },
        },
        format,
      ],
      responses: {
        "200": { description: "the device", content: fhirJson("Device", "") },
        ...outcomes(400, 401, 403, 404, 406, 503),
      },
    },
  },
  "/fhir/R4/DeviceUseStatement": {
    get: {
      summary: "A patient's assignment periods as FHIR DeviceUseStatements, oldest first (viewer)",
      parameters: [patient, count, cursor, format],
      responses: {
        "200": { description: "a page", content: fhirJson("Bundle", "searchset") },
        ...outcomes(400, 401, 403, 406, 503),
      },
    },
  },
  "/fhir/R4/Observation": {
    get: {
      summary:
        "A patient's accelerometer samples (Observations with SampledData) and activity epochs (Observations with components) in a date range as FHIR Observations (viewer)",
      parameters: [
        patient,
        {
          name: "date",
          in: "query",
          required: true,
          description:
            "a lower (ge, gt) and an upper (lt, le) bound, e.g. date=ge2025-11-20T08:00:00Z&date=lt2025-11-20T09:00:00Z",
          schema: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 2 },
          style: "form",
          explode: true,
        },
        query(
          "code",
          "triaxial-acceleration (runs of samples), activity-epoch (activity epochs) or both, comma-separated, each bare or as https://medusa-link.dev/fhir/CodeSystem/medusa-codes|{code}; both when absent (samples first)",
          { type: "string" },
        ),
        count,
        cursor,
        format,
      ],
      responses: {
        "200": { description: "a page", content: fhirJson("Bundle", "searchset") },
        ...outcomes(400, 401, 403, 406, 503),
      },
    },
  },
};
