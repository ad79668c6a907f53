import { createHash } from "node:crypto";
import {
  type ActivityEpoch,
  type AssignmentInterval,
  type AssignmentStatus,
  type DeviceId,
  type PatientId,
  statusOf,
} from "@medusa/domain";
import type * as fhir4 from "fhir/r4.js";
import type { Problem } from "../problems.js";
import { PROBLEM_BASE } from "../problems.js";
import {
  ACTIVITY_CATEGORY,
  ACTIVITY_COMPONENTS,
  ACTIVITY_EPOCH,
  DEVICE_ID_SYSTEM,
  END_REASON_EXTENSION,
  INTENSITY_CLASS_CODES,
  MILLI_G_UNIT,
  MOTION_SENSOR,
  NOT_APPLICABLE,
  PROBLEM_CODES,
  RATIO_UNIT,
  STEPS_UNIT,
  TRIAXIAL_ACCELERATION,
} from "./codes.js";
import {
  deviceReference,
  fhirIdOfDevice,
  fhirText,
  isFhirString,
  patientReference,
} from "./ids.js";
import { type SampleRun, sampledDataOf } from "./sampled-data.js";

// Domain values as FHIR R4 resources: pure functions, typed with @types/fhir's `fhir4`.

/** Epoch milliseconds as a FHIR instant (UTC, milliseconds). */
export const instant = (t: number): string => new Date(t).toISOString();

/** A stable FHIR id for what `parts` name: 40 hex digits of their SHA-256. */
const idOf = (...parts: ReadonlyArray<string | number>): string =>
  createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 40);

/**
 * A device as FHIR knows it: its id (the AWS IoT thing name) as identifier
 * and name, and the patient wearing it now, if any. `current` is the
 * device's open assignment. A patient id no FHIR string can hold (a control
 * character) is left out rather than altered.
 */
export const deviceResource = (
  deviceId: DeviceId,
  current: AssignmentInterval | null,
): fhir4.Device => {
  const id = fhirIdOfDevice(deviceId);
  return {
    resourceType: "Device",
    ...(id !== null ? { id } : {}),
    identifier: [{ system: DEVICE_ID_SYSTEM, value: deviceId }],
    deviceName: [{ name: deviceId, type: "other" }],
    type: { coding: [{ ...MOTION_SENSOR }], text: MOTION_SENSOR.display },
    ...(current !== null && isFhirString(current.patientId)
      ? { patient: patientReference(current.patientId) }
      : {}),
  };
};

/**
 * Each assignment status as a DeviceUseStatement status. Total over the
 * domain's statuses: a new one (a retracted assignment: `entered-in-error`)
 * does not compile until it is mapped here.
 */
const USE_STATUS = {
  active: "active",
  completed: "completed",
  device_returned: "completed",
  entered_in_error: "entered-in-error",
} as const satisfies Record<AssignmentStatus, fhir4.DeviceUseStatement["status"]>;

/** One assignment period of a device to a patient. */
export const deviceUseStatement = (interval: AssignmentInterval): fhir4.DeviceUseStatement => ({
  resourceType: "DeviceUseStatement",
  id: idOf("DeviceUseStatement", interval.deviceId, interval.start),
  ...(interval.endReason !== undefined
    ? { extension: [{ url: END_REASON_EXTENSION, valueCode: interval.endReason }] }
    : {}),
  status: USE_STATUS[statusOf(interval)],
  subject: patientReference(interval.patientId),
  timingPeriod: {
    start: instant(interval.start),
    ...(interval.end !== null ? { end: instant(interval.end) } : {}),
  },
  // Who recorded the assignment: the clinician's e-mail from their token.
  source: { type: "Practitioner", display: interval.assignedBy },
  device: deviceReference(interval.deviceId),
  ...(interval.notes !== undefined && interval.notes !== ""
    ? { note: [{ text: fhirText(interval.notes) }] }
    : {}),
});

/** One run of one device's samples as an Observation of the patient they are attributed to. */
export const accelerationObservation = (
  patientId: PatientId,
  run: SampleRun,
): fhir4.Observation => {
  const first = run.samples[0];
  const last = run.samples.at(-1);
  if (first === undefined || last === undefined) throw new RangeError("a run holds a sample");
  return {
    resourceType: "Observation",
    id: idOf(
      "Observation",
      patientId,
      run.deviceId,
      first.timestamp,
      first.sequence,
      run.samples.length,
    ),
    status: "final",
    category: [{ coding: [{ ...ACTIVITY_CATEGORY }] }],
    code: { coding: [{ ...TRIAXIAL_ACCELERATION }], text: TRIAXIAL_ACCELERATION.display },
    subject: patientReference(patientId),
    effectivePeriod: { start: instant(first.timestamp), end: instant(last.timestamp) },
    device: deviceReference(run.deviceId),
    valueSampledData: sampledDataOf(run),
  };
};

const component = (
  code: (typeof ACTIVITY_COMPONENTS)[keyof typeof ACTIVITY_COMPONENTS],
  value: Omit<fhir4.ObservationComponent, "code">,
): fhir4.ObservationComponent => ({
  code: { coding: [{ ...code }], text: code.display },
  ...value,
});

/**
 * One epoch of a patient's activity on one device as an Observation: its
 * period, and its figures as components (README: "Activity epochs"), the
 * values exactly those `GET /api/patients/{id}/activity` answers. An epoch
 * not worn has no intensity class: that component says why it is absent.
 */
export const activityObservation = (
  patientId: PatientId,
  epoch: ActivityEpoch,
): fhir4.Observation => ({
  resourceType: "Observation",
  id: idOf("ActivityEpoch", patientId, epoch.deviceId, epoch.start, epoch.epochMs),
  status: "final",
  category: [{ coding: [{ ...ACTIVITY_CATEGORY }] }],
  code: { coding: [{ ...ACTIVITY_EPOCH }], text: ACTIVITY_EPOCH.display },
  subject: patientReference(patientId),
  effectivePeriod: { start: instant(epoch.start), end: instant(epoch.start + epoch.epochMs) },
  device: deviceReference(epoch.deviceId),
  component: [
    component(ACTIVITY_COMPONENTS.enmo, {
      valueQuantity: { value: epoch.enmoMg, ...MILLI_G_UNIT },
    }),
    component(ACTIVITY_COMPONENTS.mad, { valueQuantity: { value: epoch.madMg, ...MILLI_G_UNIT } }),
    component(ACTIVITY_COMPONENTS.coverage, {
      valueQuantity: { value: epoch.coverage, ...RATIO_UNIT },
    }),
    component(ACTIVITY_COMPONENTS.wear, { valueBoolean: epoch.wear }),
    component(
      ACTIVITY_COMPONENTS.intensity,
      epoch.intensity === null
        ? { dataAbsentReason: { coding: [{ ...NOT_APPLICABLE }], text: "not worn" } }
        : {
            valueCodeableConcept: {
              coding: [{ system: INTENSITY_CLASS_CODES, code: epoch.intensity }],
              text: epoch.intensity,
            },
          },
    ),
    component(ACTIVITY_COMPONENTS.steps, { valueQuantity: { value: epoch.steps, ...STEPS_UNIT } }),
  ],
});

/** OperationOutcome's issue type for an HTTP status. */
const issueCode = (status: number): fhir4.OperationOutcomeIssue["code"] => {
  if (status === 401) return "login";
  if (status === 403) return "forbidden";
  if (status === 404) return "not-found";
  if (status === 406 || status === 415) return "not-supported";
  if (status === 409) return "conflict";
  if (status === 413) return "too-costly";
  if (status === 503) return "transient";
  if (status >= 500) return "exception";
  return "invalid";
};

/**
 * A problem (RFC 9457) as a FHIR OperationOutcome: the problem's type is the
 * issue's details code, its detail the diagnostics, and each failing field
 * an issue of its own, with the field as its expression.
 */
export const operationOutcome = (p: Problem): fhir4.OperationOutcome => {
  const slug = p.type.startsWith(PROBLEM_BASE) ? p.type.slice(PROBLEM_BASE.length) : p.type;
  const code = issueCode(p.status);
  const details = { coding: [{ system: PROBLEM_CODES, code: slug }], text: p.title };
  const fields = Array.isArray(p.errors)
    ? (p.errors as ReadonlyArray<{ readonly path?: unknown; readonly message?: unknown }>)
    : [];
  const issues: Array<fhir4.OperationOutcomeIssue> =
    fields.length > 0
      ? fields.map((f) => ({
          severity: "error",
          code,
          details,
          diagnostics: `${String(f.path ?? "") || "(root)"}: ${String(f.message ?? "")}`,
          ...(typeof f.path === "string" && f.path !== "" ? { expression: [f.path] } : {}),
        }))
      : [
          {
            severity: p.status >= 500 ? "fatal" : "error",
            code,
            details,
            ...(p.detail !== undefined ? { diagnostics: p.detail } : {}),
          },
        ];
  return { resourceType: "OperationOutcome", issue: issues };
};

/** A page of search results. */
export const searchset = (page: {
  readonly self: string;
  readonly next: string | null;
  readonly total?: number;
  readonly resources: ReadonlyArray<fhir4.FhirResource>;
}): fhir4.Bundle => ({
  resourceType: "Bundle",
  type: "searchset",
  ...(page.total !== undefined ? { total: page.total } : {}),
  link: [
    { relation: "self", url: page.self },
    ...(page.next !== null ? [{ relation: "next", url: page.next }] : []),
  ],
  // FHIR's JSON has no empty arrays: no match, no `entry`.
  ...(page.resources.length > 0
    ? { entry: page.resources.map((resource) => ({ resource, search: { mode: "match" } })) }
    : {}),
});
