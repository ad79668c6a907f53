/**
 * The code systems and codes the FHIR export uses. Real terminologies where
 * they have a code for what is exported (UCUM for the unit, HL7's observation
 * category); this project's own URIs, under `https://medusa-link.dev/fhir/`,
 * where none does (README: "Codes").
 */

/** This project's FHIR namespace: code systems, naming systems, extensions. */
export const MEDUSA_FHIR = "https://medusa-link.dev/fhir";

/** Device ids as MeDUSA Link knows them: the AWS IoT thing name. */
export const DEVICE_ID_SYSTEM = `${MEDUSA_FHIR}/NamingSystem/device-id`;

/**
 * The clinic's patient id as given to MeDUSA Link: the identifier of a
 * patient reference when the id is not a FHIR id (README: "Patients").
 */
export const PATIENT_ID_SYSTEM = `${MEDUSA_FHIR}/NamingSystem/patient-id`;

/** This project's codes, where no LOINC or SNOMED CT code names what is exported. */
export const MEDUSA_CODES = `${MEDUSA_FHIR}/CodeSystem/medusa-codes`;

/** Why an assignment ended (`completed`, `device_returned`), on a DeviceUseStatement. */
export const END_REASON_EXTENSION = `${MEDUSA_FHIR}/StructureDefinition/assignment-end-reason`;

/** The problem types of the HTTP API, as the code system of an OperationOutcome's details. */
export const PROBLEM_CODES = `${MEDUSA_FHIR}/CodeSystem/problem-types`;

export const UCUM = "http://unitsofmeasure.org";

/** Raw accelerometer samples: x, y and z of one device, interleaved in one SampledData. */
export const TRIAXIAL_ACCELERATION = {
  system: MEDUSA_CODES,
  code: "triaxial-acceleration",
  display: "Triaxial acceleration (x, y, z interleaved), in g",
} as const;

/** A wearable motion sensor (the device that takes the samples). */
export const MOTION_SENSOR = {
  system: MEDUSA_CODES,
  code: "motion-sensor",
  display: "Wearable motion sensor (triaxial accelerometer)",
} as const;

/** HL7's observation category for bodily activity measured outside a practitioner's supervision. */
export const ACTIVITY_CATEGORY = {
  system: "http://terminology.hl7.org/CodeSystem/observation-category",
  code: "activity",
  display: "Activity",
} as const;

/** UCUM's standard acceleration of free fall (9.80665 m/s²): the unit the samples are in. */
export const G_UNIT = { unit: "g", system: UCUM, code: "[g]" } as const;
