import { DeviceId, type PatientId } from "@medusa/domain";
import { Schema } from "effect";
import type * as fhir4 from "fhir/r4.js";
import { DEVICE_ID_SYSTEM, PATIENT_ID_SYSTEM } from "./codes.js";

/** FHIR's `id` type: what a resource's id and the id in a literal reference may be. */
export const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

const isDeviceId = Schema.is(DeviceId);

/** A character FHIR's strings may not hold: a control character other than tab, CR and LF. */
const isControl = (code: number): boolean =>
  (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f;

/**
 * FHIR's `string`: no control character but tab, CR and LF (the spec's
 * rule), and no other whitespace than those and the space (its JSON
 * schema's `[ \r\n\t\S]+`, in JavaScript's reading of `\S`).
 */
export const isFhirString = (s: string): boolean =>
  /^[ \r\n\t\S]+$/.test(s) && ![...s].some((ch) => isControl(ch.charCodeAt(0)));

/**
 * Free text (notes) as a FHIR string: a control character becomes U+FFFD,
 * any other whitespace (a no-break space, a line separator) a space. Never
 * used on identifiers, which are kept as they are or not exported.
 */
export const fhirText = (s: string): string =>
  [...s]
    .map((ch) => (isControl(ch.charCodeAt(0)) ? "\ufffd" : /[^ \r\n\t\S]/.test(ch) ? " " : ch))
    .join("");

/**
 * A device's FHIR id. A device id (an AWS IoT thing name, up to 128 of
 * `[a-zA-Z0-9:_-]`) may hold `_` and `:`, which a FHIR id may not; it never
 * holds `.`, which a FHIR id may: so `_` is written `.u` and `:` `.c`, and
 * every device id has one FHIR id and every FHIR id names at most one device.
 * Null when the result is longer than a FHIR id's 64 characters: such a
 * device is referred to by its identifier and has no `Device/{id}`.
 */
export const fhirIdOfDevice = (deviceId: DeviceId): string | null => {
  const id = deviceId.replace(/[_:]/g, (ch) => (ch === "_" ? ".u" : ".c"));
  return id.length <= 64 ? id : null;
};

/** The device a FHIR id names, or null when it names none (`fhirIdOfDevice`'s inverse). */
export const deviceIdOfFhirId = (id: string): DeviceId | null => {
  if (!FHIR_ID.test(id)) return null;
  let bad = false;
  const raw = id.replace(/\.(.?)/g, (_, ch: string) => {
    if (ch === "u") return "_";
    if (ch === "c") return ":";
    bad = true;
    return "";
  });
  return !bad && isDeviceId(raw) ? raw : null;
};

/** A reference to the device: `Device/{id}`, or by identifier when it has no FHIR id. */
export const deviceReference = (deviceId: DeviceId): fhir4.Reference => {
  const id = fhirIdOfDevice(deviceId);
  return id !== null
    ? { reference: `Device/${id}`, display: deviceId }
    : { identifier: { system: DEVICE_ID_SYSTEM, value: deviceId }, display: deviceId };
};

/**
 * A reference to the patient by the clinic's id alone (the system owns no
 * demographics): `Patient/{id}`; by identifier when the id is not a FHIR id
 * (spaces, `_`, more than 64 characters).
 */
export const patientReference = (patientId: PatientId): fhir4.Reference =>
  FHIR_ID.test(patientId)
    ? { reference: `Patient/${patientId}` }
    : { identifier: { system: PATIENT_ID_SYSTEM, value: patientId } };
