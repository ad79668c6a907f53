import {
  type ActivityEpoch,
  AssignmentInterval,
  DeviceId,
  deviceId,
  EARLIEST_SAMPLE_TIME,
  epochMillis,
  INTENSITY_CLASSES,
  LATEST_SAMPLE_TIME,
  magnitudeOf,
  PatientId,
  patientId,
  type TimelineSample,
} from "@medusa/domain";
import { T0 } from "@medusa/domain/testing";
import { Arbitrary, FastCheck as fc } from "effect";
import type * as fhir4 from "fhir/r4.js";
import { describe, expect, it } from "vitest";
import { problem } from "../problems.js";
import { activityFiguresOf, asFhir4, fhirSchemaErrors } from "../testing/fhir-schema.js";
import { capabilityStatement } from "./capability.js";
import {
  ACTIVITY_CATEGORY,
  ACTIVITY_EPOCH,
  END_REASON_EXTENSION,
  INTENSITY_CLASS_CODES,
  NOT_APPLICABLE,
  TRIAXIAL_ACCELERATION,
} from "./codes.js";
import { deviceReference, isFhirString, patientReference } from "./ids.js";
import {
  accelerationObservation,
  activityObservation,
  deviceResource,
  deviceUseStatement,
  operationOutcome,
  searchset,
} from "./resources.js";
import { decodeSampledData, runsOf } from "./sampled-data.js";

/** Times an assignment or a sample can have: 2020 to 2100. */
const time = fc
  .integer({ min: EARLIEST_SAMPLE_TIME, max: LATEST_SAMPLE_TIME - 1 })
  .map(epochMillis);
/** Patient ids the FHIR search takes (one with a control character is refused there). */
const patients = Arbitrary.make(PatientId).filter(isFhirString);
const devices = fc.oneof(
  Arbitrary.make(DeviceId),
  fc.stringMatching(/^[a-z0-9:_-]{1,80}$/).map(deviceId),
);
const intervals = fc
  .tuple(Arbitrary.make(AssignmentInterval), patients, devices, time, fc.option(time), fc.string())
  .map(([i, p, d, start, end, notes]) => {
    const { end: _, notes: __, endReason, endedBy, ...rest } = i;
    return {
      ...rest,
      patientId: p,
      deviceId: d,
      start,
      end,
      ...(end !== null
        ? { endReason: endReason ?? "completed", ...(endedBy ? { endedBy } : {}) }
        : {}),
      ...(notes !== "" ? { notes } : {}),
    } satisfies AssignmentInterval;
  });

describe("FHIR resources from the domain's values, each valid by HL7's R4 JSON schema", () => {
  it("Device: any device, worn or not", () => {
    fc.assert(
      fc.property(devices, fc.option(intervals), (d, current) => {
        const device = asFhir4<fhir4.Device>(deviceResource(d, current), "Device");
        expect(device.identifier?.[0]?.value).toBe(d);
        expect(device.patient !== undefined).toBe(current !== null);
      }),
      { numRuns: 300 },
    );
  });

  it("DeviceUseStatement: any assignment period; active while open, completed once ended, entered-in-error when retracted, why in an extension", () => {
    fc.assert(
      fc.property(intervals, (i) => {
        const s = asFhir4<fhir4.DeviceUseStatement>(deviceUseStatement(i), "DeviceUseStatement");
        expect(s.status).toBe(
          i.retracted ? "entered-in-error" : i.end === null ? "active" : "completed",
        );
        expect(s.timingPeriod?.start).toBe(new Date(i.start).toISOString());
        expect(s.timingPeriod?.end).toBe(
          i.end === null ? undefined : new Date(i.end).toISOString(),
        );
        expect(s.extension).toEqual(
          i.endReason === undefined
            ? undefined
            : [{ url: END_REASON_EXTENSION, valueCode: i.endReason }],
        );
        expect(s.subject.reference ?? s.subject.identifier?.value).toContain(i.patientId);
      }),
      { numRuns: 300 },
    );
  });

  it("DeviceUseStatement: a device returned is completed too, and a note keeps its text (control characters shown as U+FFFD)", () => {
    const s = deviceUseStatement({
      deviceId: deviceId("pi-1"),
      patientId: patientId("P-1"),
      assignedBy: "nurse@clinic.example" as never,
      start: epochMillis(T0),
      end: epochMillis(T0 + 60_000),
      endReason: "device_returned",
      notes: "left wrist\u0007\u00a0",
    });
    expect(s).toMatchObject({
      status: "completed",
      extension: [{ url: END_REASON_EXTENSION, valueCode: "device_returned" }],
      note: [{ text: "left wrist\ufffd " }],
      source: { type: "Practitioner", display: "nurse@clinic.example" },
    });
    expect(fhirSchemaErrors(s)).toEqual([]);
  });

  it("DeviceUseStatement: an assignment retracted as entered in error is entered-in-error", () => {
    const s = deviceUseStatement({
      deviceId: deviceId("pi-1"),
      patientId: patientId("P-1"),
      assignedBy: "nurse@clinic.example" as never,
      start: epochMillis(T0),
      end: null,
      retracted: true,
    });
    expect(s.status).toBe("entered-in-error");
    expect(fhirSchemaErrors(s)).toEqual([]);
  });

  it("Observation: any run of samples, its SampledData decoding to the samples", () => {
    const g = fc.oneof(
      fc.integer({ min: -4096, max: 4095 }).map((k) => k * 0.0039),
      fc.double({ min: -16, max: 16, noNaN: true }),
    );
    fc.assert(
      fc.property(
        patients,
        devices,
        time,
        fc.integer({ min: 1, max: 1_000 }),
        fc.array(fc.tuple(g, g, g), { minLength: 1, maxLength: 50 }),
        (p, d, t0, step, values) => {
          const samples: Array<TimelineSample> = values.map(([x, y, z], i) => ({
            deviceId: d,
            timestamp: epochMillis(t0 + i * step),
            sequence: i,
            x,
            y,
            z,
            magnitude: magnitudeOf(x, y, z),
          }));
          const [run] = runsOf(samples);
          if (run === undefined) throw new Error("no run");
          const o = asFhir4<fhir4.Observation>(accelerationObservation(p, run), "Observation");
          expect(o.code.coding?.[0]?.code).toBe(TRIAXIAL_ACCELERATION.code);
          expect(o.effectivePeriod?.start).toBe(new Date(t0).toISOString());
          const sd = o.valueSampledData;
          if (sd === undefined) throw new Error("no SampledData");
          const points = decodeSampledData(sd);
          // Exact, except that zero carries no sign (−0 g is written 0): `v + 0` is v, −0 made 0.
          expect(points.map((q) => [q.x, q.y, q.z])).toEqual(
            run.samples.map((s) => [s.x + 0, s.y + 0, s.z + 0]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("Observation: any activity epoch, its components reading back to the epoch's figures", () => {
    const mg = fc.double({ min: 0, max: 16_000, noNaN: true });
    const epochs = fc
      .record({
        start: time,
        epochMs: fc.constantFrom(1_000, 5_000, 15_000, 30_000, 60_000, 900_000),
        deviceId: devices,
        samples: fc.integer({ min: 1, max: 10_000 }),
        expected: fc.integer({ min: 1, max: 10_000 }),
        enmoMg: mg,
        madMg: mg,
        steps: fc.nat({ max: 10_000 }),
        intensity: fc.option(fc.constantFrom(...INTENSITY_CLASSES)),
      })
      .map(
        (e): ActivityEpoch => ({
          ...e,
          coverage: Math.min(1, e.samples / e.expected),
          cadence: (e.steps * 60_000) / e.epochMs,
          wear: e.intensity !== null,
        }),
      );
    fc.assert(
      fc.property(patients, epochs, (p, e) => {
        const o = asFhir4<fhir4.Observation>(activityObservation(p, e), "Observation");
        expect(o.code.coding).toEqual([ACTIVITY_EPOCH]);
        expect(o.category).toEqual([{ coding: [ACTIVITY_CATEGORY] }]);
        expect(o.subject).toEqual(patientReference(p));
        expect(o.device).toEqual(deviceReference(e.deviceId));
        expect(activityFiguresOf(o)).toEqual({
          time: e.start,
          epoch_ms: e.epochMs,
          device_id: e.deviceId,
          enmo_mg: e.enmoMg + 0,
          mad_mg: e.madMg + 0,
          coverage: e.coverage,
          wear: e.wear,
          intensity: e.intensity,
          steps: e.steps,
        });
        const intensity = o.component?.find((c) => c.code.coding?.[0]?.code === "intensity-class");
        if (e.intensity === null)
          expect(intensity?.dataAbsentReason?.coding).toEqual([NOT_APPLICABLE]);
        else
          expect(intensity?.valueCodeableConcept?.coding?.[0]?.system).toBe(INTENSITY_CLASS_CODES);
        expect(
          o.component?.find((c) => c.code.coding?.[0]?.code === "enmo")?.valueQuantity,
        ).toEqual({
          value: e.enmoMg + 0,
          unit: "mg",
          system: "http://unitsofmeasure.org",
          code: "m[g]",
        });
      }),
      { numRuns: 300 },
    );
  });

  it("OperationOutcome: every problem the API answers with, one issue per failing field", () => {
    for (const status of [400, 401, 403, 404, 406, 409, 413, 422, 500, 503] as const) {
      const o = asFhir4<fhir4.OperationOutcome>(
        operationOutcome(problem(status, "some-problem", "Some problem", { detail: "why" })),
        "OperationOutcome",
      );
      expect(o.issue).toHaveLength(1);
    }
    const o = operationOutcome(
      problem(400, "validation-error", "Invalid search", {
        errors: [
          { path: "patient", message: "is required" },
          { path: "date", message: "needs a lower and an upper bound" },
        ],
      }),
    );
    expect(o.issue).toEqual([
      expect.objectContaining({ code: "invalid", expression: ["patient"] }),
      expect.objectContaining({ code: "invalid", expression: ["date"] }),
    ]);
    expect(fhirSchemaErrors(o)).toEqual([]);
  });

  it("CapabilityStatement and searchset Bundles, empty or not", () => {
    asFhir4<fhir4.CapabilityStatement>(
      capabilityStatement("http://127.0.0.1:8080/fhir/R4"),
      "CapabilityStatement",
    );
    const interval = {
      deviceId: deviceId("pi-1"),
      patientId: patientId("P-1"),
      assignedBy: "nurse@clinic.example" as never,
      start: epochMillis(T0),
      end: null,
    };
    const full = asFhir4<fhir4.Bundle>(
      searchset({
        self: "http://h/fhir/R4/DeviceUseStatement?patient=P-1",
        next: "http://h/fhir/R4/DeviceUseStatement?patient=P-1&_cursor=x",
        total: 2,
        resources: [deviceUseStatement(interval), deviceResource(interval.deviceId, interval)],
      }),
      "Bundle",
    );
    expect(full.link?.map((l) => l.relation)).toEqual(["self", "next"]);
    const empty = asFhir4<fhir4.Bundle>(
      searchset({ self: "http://h/fhir/R4/Observation", next: null, total: 0, resources: [] }),
      "Bundle",
    );
    expect(empty.entry).toBeUndefined();
  });

  it("the schema check is not a formality: what FHIR forbids is caught", () => {
    const o = accelerationObservation(patientId("P-1"), {
      deviceId: deviceId("pi-1"),
      period: 100,
      firstIndex: 0,
      samples: [
        {
          deviceId: deviceId("pi-1"),
          timestamp: epochMillis(T0),
          sequence: 0,
          x: 0,
          y: 0,
          z: 1,
          magnitude: 1,
        },
      ],
    });
    expect(fhirSchemaErrors(o)).toEqual([]);
    for (const bad of [
      { ...o, id: "has_underscore" },
      { ...o, status: "done" },
      { ...o, valueSampledData: { period: 100, dimensions: 3, data: "0 0 1" } },
      { ...o, effectivePeriod: { start: "2024-11-14 22:13" } },
      { ...o, samples: [] },
    ])
      expect(fhirSchemaErrors(bad)).not.toEqual([]);
    expect(() => asFhir4({ ...o, category: [] }, "Observation")).toThrow(/empty values/);
    expect(() => asFhir4(o, "Device")).toThrow(/not a Device/);
  });
});
