import { DeviceId, deviceId, PatientId, patientId } from "@medusa/domain";
import { Arbitrary, FastCheck as fc } from "effect";
import { describe, expect, it } from "vitest";
import { DEVICE_ID_SYSTEM, PATIENT_ID_SYSTEM } from "./codes.js";
import {
  deviceIdOfFhirId,
  deviceReference,
  FHIR_ID,
  fhirIdOfDevice,
  patientReference,
} from "./ids.js";

/** Device ids as the IoT thing names they are, `_` and `:` included. */
const deviceIds = fc.oneof(
  Arbitrary.make(DeviceId),
  fc.stringMatching(/^[a-z0-9:_-]{1,40}$/).map(deviceId),
);

describe("FHIR ids of devices", () => {
  it("every device id has at most one FHIR id, a valid one, that names it back", () => {
    fc.assert(
      fc.property(deviceIds, (d) => {
        const id = fhirIdOfDevice(d);
        if (id === null) return expect(d.length).toBeGreaterThan(32);
        expect(id).toMatch(FHIR_ID);
        expect(deviceIdOfFhirId(id)).toBe(d);
      }),
    );
  });

  it("two devices never share a FHIR id", () => {
    fc.assert(
      fc.property(deviceIds, deviceIds, (a, b) => {
        fc.pre(a !== b);
        const [x, y] = [fhirIdOfDevice(a), fhirIdOfDevice(b)];
        if (x !== null && y !== null) expect(x).not.toBe(y);
      }),
    );
  });

  it("plain ids stay as they are; _ and : are escaped with a dot, which no device id holds", () => {
    expect(fhirIdOfDevice(deviceId("medusa-pi-01"))).toBe("medusa-pi-01");
    expect(fhirIdOfDevice(deviceId("ward_3:pi-7"))).toBe("ward.u3.cpi-7");
    expect(fhirIdOfDevice(deviceId("x".repeat(64)))).toBe("x".repeat(64));
    expect(fhirIdOfDevice(deviceId(`${"x".repeat(63)}_`))).toBeNull();
    for (const bad of ["a.b", "a.", "a.U", "a_b", "", "x".repeat(65), "a/b"])
      expect([bad, deviceIdOfFhirId(bad)]).toEqual([bad, null]);
  });

  it("references: Device/{id}, or by identifier when the device has no FHIR id", () => {
    expect(deviceReference(deviceId("pi_1"))).toEqual({
      reference: "Device/pi.u1",
      display: "pi_1",
    });
    const long = deviceId("d".repeat(100));
    expect(deviceReference(long)).toEqual({
      identifier: { system: DEVICE_ID_SYSTEM, value: long },
      display: long,
    });
  });
});

describe("patient references", () => {
  it("Patient/{id} for ids FHIR takes; the clinic's id as identifier otherwise, never altered", () => {
    expect(patientReference(patientId("P-001"))).toEqual({ reference: "Patient/P-001" });
    expect(patientReference(patientId("MRN 0042"))).toEqual({
      identifier: { system: PATIENT_ID_SYSTEM, value: "MRN 0042" },
    });
    fc.assert(
      fc.property(Arbitrary.make(PatientId), (p) => {
        const r = patientReference(p);
        if (r.reference !== undefined) {
          expect(r.reference).toBe(`Patient/${p}`);
          expect(p).toMatch(FHIR_ID);
        } else expect(r.identifier?.value).toBe(p);
      }),
    );
  });
});
