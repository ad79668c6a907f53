import { DeviceId, PatientId, type TimelineSample } from "@medusa/domain";
import { Arbitrary, Schema } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SampleFields, SensorDataResponse } from "./schemas.js";
import { timelinePageJson } from "./timeline-json.js";
import { timelineView } from "./views.js";

const toSample = ([v, device, received]: [
  typeof SampleFields.Type,
  DeviceId,
  boolean,
]): TimelineSample => ({
  deviceId: device,
  timestamp: v.timestamp as TimelineSample["timestamp"],
  sequence: v.sequence as TimelineSample["sequence"],
  x: v.accel_x as TimelineSample["x"],
  y: v.accel_y as TimelineSample["y"],
  z: v.accel_z as TimelineSample["z"],
  magnitude: v.magnitude as TimelineSample["magnitude"],
  ...(v.temperature !== undefined
    ? { temperature: v.temperature as NonNullable<TimelineSample["temperature"]> }
    : {}),
  ...(received ? { timestampSource: "received_at" as const } : {}),
});

const viaSchema = (patient: PatientId, page: Parameters<typeof timelinePageJson>[1]) =>
  JSON.stringify(Schema.encodeSync(SensorDataResponse)(timelineView(patient, page)));

describe("the sensor-data page's JSON", () => {
  it("is the JSON the response schema's encoder gives, for any samples, cursor and patient", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(Arbitrary.make(SampleFields), Arbitrary.make(DeviceId), fc.boolean()), {
          maxLength: 40,
        }),
        Arbitrary.make(PatientId),
        fc.option(fc.string(), { nil: null }),
        (rows, patient, cursor) => {
          const page = { samples: rows.map(toSample), nextCursor: cursor };
          expect(timelinePageJson(patient, page)).toBe(viaSchema(patient, page));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("writes numbers as JSON does: -0, tiny and huge values, NaN and infinities", () => {
    const odd = [-0, 1e-7, 1.5e300, -1e21, Number.NaN, Number.POSITIVE_INFINITY, 0.1 + 0.2];
    const samples = odd.map(
      (n, i): TimelineSample => ({
        deviceId: DeviceId.make(i % 2 === 0 ? "dev-a" : "dev:b_2"),
        timestamp: (1_700_000_000_000 + i) as TimelineSample["timestamp"],
        sequence: i as TimelineSample["sequence"],
        x: n as TimelineSample["x"],
        y: -n as TimelineSample["y"],
        z: n as TimelineSample["z"],
        magnitude: Math.abs(n) as TimelineSample["magnitude"],
        ...(i % 3 === 0 ? { temperature: n as NonNullable<TimelineSample["temperature"]> } : {}),
      }),
    );
    const patient = PatientId.make('P-\u00e9\u2028"x');
    const page = { samples, nextCursor: "c\\ursor" };
    expect(timelinePageJson(patient, page)).toBe(viaSchema(patient, page));
  });

  it("refuses, as the schema does, a sample the schema would not show", () => {
    const bad: TimelineSample = {
      deviceId: DeviceId.make("dev-a"),
      timestamp: 1.5 as TimelineSample["timestamp"],
      sequence: 1 as TimelineSample["sequence"],
      x: 0 as TimelineSample["x"],
      y: 0 as TimelineSample["y"],
      z: 1 as TimelineSample["z"],
      magnitude: 1 as TimelineSample["magnitude"],
    };
    const page = { samples: [bad], nextCursor: null };
    const patient = PatientId.make("P-1");
    expect(() => viaSchema(patient, page)).toThrow();
    expect(() => timelinePageJson(patient, page)).toThrow();
  });
});
