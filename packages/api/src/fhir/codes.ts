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

/**
 * One epoch of a patient's activity on one device (README: "Activity epochs"):
 * the Observation's code; its figures are components with the codes below.
 */
export const ACTIVITY_EPOCH = {
  system: MEDUSA_CODES,
  code: "activity-epoch",
  display: "Wrist accelerometer activity over one epoch",
} as const;

/** An activity epoch's components: no LOINC or SNOMED CT code names these figures. */
export const ACTIVITY_COMPONENTS = {
  enmo: {
    system: MEDUSA_CODES,
    code: "enmo",
    display: "Mean ENMO (Euclidean norm minus one, negatives set to zero), in milli-g",
  },
  mad: {
    system: MEDUSA_CODES,
    code: "mad",
    display: "Mean amplitude deviation of the acceleration magnitude, in milli-g",
  },
  coverage: {
    system: MEDUSA_CODES,
    code: "coverage",
    display: "Samples present over samples expected in the epoch (0 to 1)",
  },
  wear: { system: MEDUSA_CODES, code: "wear", display: "Device worn (not in a non-wear period)" },
  intensity: {
    system: MEDUSA_CODES,
    code: "intensity-class",
    display: "Intensity class from mean ENMO and the wrist cut-points",
  },
  steps: { system: MEDUSA_CODES, code: "steps", display: "Steps counted in the epoch" },
} as const;

/** The intensity classes (`sedentary`, `light`, `moderate`, `vigorous`): a code system of their own. */
export const INTENSITY_CLASS_CODES = `${MEDUSA_FHIR}/CodeSystem/intensity-class`;

/** HL7's reason a value is missing: the intensity of an epoch not worn. */
export const NOT_APPLICABLE = {
  system: "http://terminology.hl7.org/CodeSystem/data-absent-reason",
  code: "not-applicable",
  display: "Not Applicable",
} as const;

/** Milli-g: UCUM's `[g]` with the milli prefix (ENMO and MAD). */
export const MILLI_G_UNIT = { unit: "mg", system: UCUM, code: "m[g]" } as const;
/** A ratio without a unit (coverage). */
export const RATIO_UNIT = { unit: "1", system: UCUM, code: "1" } as const;
/** Steps: a count, UCUM's annotation `{steps}`. */
export const STEPS_UNIT = { unit: "steps", system: UCUM, code: "{steps}" } as const;
