import type * as fhir4 from "fhir/r4.js";
import { ACTIVITY_EPOCH, MEDUSA_CODES, TRIAXIAL_ACCELERATION } from "./codes.js";
import { MAX_COUNT } from "./search.js";

export const FHIR_VERSION = "4.0.1";

/** When this statement last changed (a new route or parameter is a new date). */
const STATEMENT_DATE = "2026-11-29";

const patient = (resource: string): fhir4.CapabilityStatementRestResourceSearchParam => ({
  name: "patient",
  definition: "http://hl7.org/fhir/SearchParameter/clinical-patient",
  type: "reference",
  documentation: `Required: the patient's id, bare or as Patient/{id}. Every ${resource} of the patient.`,
});

/** What this server does: reads devices, searches assignments and accelerometer data; nothing else. */
export const capabilityStatement = (base: string): fhir4.CapabilityStatement => ({
  resourceType: "CapabilityStatement",
  status: "active",
  date: STATEMENT_DATE,
  publisher: "MeDUSA Link",
  kind: "instance",
  software: { name: "MeDUSA Link API", version: "1.0.0" },
  implementation: {
    description:
      "MeDUSA Link: wearable motion sensors linked to patients. A read-only FHIR R4 export of devices, their assignment periods (DeviceUseStatement), accelerometer data (Observation with SampledData) and activity per 60 s epoch (Observation with components).",
    url: base,
  },
  fhirVersion: FHIR_VERSION,
  format: ["application/fhir+json", "json"],
  rest: [
    {
      mode: "server",
      documentation: `Read-only. Searches page with _count (1 to ${MAX_COUNT}) and follow the Bundle's next link. Unknown search parameters are refused (400).`,
      security: {
        service: [
          {
            coding: [
              {
                system: "http://terminology.hl7.org/CodeSystem/restful-security-service",
                code: "OAuth",
              },
            ],
          },
        ],
        description:
          "Authorization: Bearer <JWT>, the tokens of the rest of the API, with the viewer or clinician role.",
      },
      resource: [
        {
          type: "Device",
          documentation: "Devices that have been assigned to a patient at least once.",
          interaction: [{ code: "read" }],
        },
        {
          type: "DeviceUseStatement",
          documentation: "One per assignment period of a device to a patient, oldest first.",
          interaction: [{ code: "search-type" }],
          searchParam: [patient("assignment period")],
        },
        {
          type: "Observation",
          documentation: `Accelerometer samples as SampledData, one Observation per run of one device's evenly spaced samples (code ${TRIAXIAL_ACCELERATION.code}); then activity, one Observation per 60 s epoch of one device with ENMO, MAD, coverage, wear, intensity class and steps as components (code ${ACTIVITY_EPOCH.code}). Codes: ${MEDUSA_CODES}.`,
          interaction: [{ code: "search-type" }],
          searchParam: [
            patient("run of samples"),
            {
              name: "date",
              definition: "http://hl7.org/fhir/SearchParameter/clinical-date",
              type: "date",
              documentation:
                "Required, a lower (ge, gt) and an upper (lt, le) bound, e.g. date=ge2025-11-20T08:00:00Z&date=lt2025-11-20T09:00:00Z; samples in that range, epochs starting in it.",
            },
            {
              name: "code",
              definition: "http://hl7.org/fhir/SearchParameter/clinical-code",
              type: "token",
              documentation: `Optional: ${TRIAXIAL_ACCELERATION.code} (samples), ${ACTIVITY_EPOCH.code} (activity epochs) or both, comma-separated, each bare or as ${MEDUSA_CODES}|code. Without it, both: samples first, then epochs.`,
            },
          ],
        },
      ],
    },
  ],
});
