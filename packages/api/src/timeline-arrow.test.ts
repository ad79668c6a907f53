import { DeviceId, PatientId, type TimelineSample } from "@medusa/domain";
import { type Table, tableFromIPC } from "apache-arrow";
import { Arbitrary } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SampleFields } from "./schemas.js";
import { ARROW_METADATA, timelinePageArrow, wantsArrow } from "./timeline-arrow.js";
import { timelinePageJson } from "./timeline-json.js";

/** A sample: any time and device the view shows, any doubles (-0, NaN, ±Infinity included), any sequence. */
const sampleArb = fc
  .record({
    view: Arbitrary.make(SampleFields),
    device: Arbitrary.make(DeviceId),
    x: fc.double(),
    y: fc.double(),
    z: fc.double(),
    magnitude: fc.double(),
    temperature: fc.option(fc.double(), { nil: undefined }),
    sequence: fc.maxSafeNat(),
  })
  .map(
    (r): TimelineSample => ({
      deviceId: r.device,
      timestamp: r.view.timestamp as TimelineSample["timestamp"],
      sequence: r.sequence as TimelineSample["sequence"],
      x: r.x as TimelineSample["x"],
      y: r.y as TimelineSample["y"],
      z: r.z as TimelineSample["z"],
      magnitude: r.magnitude as TimelineSample["magnitude"],
      ...(r.temperature !== undefined
        ? { temperature: r.temperature as NonNullable<TimelineSample["temperature"]> }
        : {}),
    }),
  );

/** The Arrow page's rows as plain values: BigInt sequence to number, Timestamp ms as a number. */
const rowsOf = (table: Table) => {
  const col = (name: string) => {
    const c = table.getChild(name);
    if (!c) throw new Error(`no column ${name}`);
    return c;
  };
  const names = [
    "timestamp",
    "device_id",
    "accel_x",
    "accel_y",
    "accel_z",
    "magnitude",
    "temperature",
    "sequence",
  ] as const;
  const cols = names.map(col);
  return Array.from({ length: table.numRows }, (_, i) => {
    const [t, d, x, y, z, m, c, s] = cols.map((v) => v.get(i));
    return {
      device_id: d as string,
      timestamp: Number(t),
      accel_x: x as number,
      accel_y: y as number,
      accel_z: z as number,
      magnitude: m as number,
      temperature: c as number | null,
      sequence: Number(s as bigint),
    };
  });
};

/** What JSON makes of a number: non-finite numbers are null, -0 is 0. */
const asJson = (n: number): number | null => (Number.isFinite(n) ? n + 0 : null);

describe("the sensor-data page as Arrow", () => {
  it("decodes to exactly the page's samples, and to the JSON page's samples under JSON's number rules", () => {
    fc.assert(
      fc.property(
        fc.array(sampleArb, { maxLength: 40 }),
        Arbitrary.make(PatientId),
        fc.option(fc.string(), { nil: null }),
        (samples, patient, cursor) => {
          const page = { samples, nextCursor: cursor };
          const table = tableFromIPC(timelinePageArrow(patient, page));
          // The columns pandas, polars and R read.
          expect(table.schema.fields.map((f) => `${f.name}:${f.type}:${f.nullable}`)).toEqual([
            "timestamp:Timestamp<MILLISECOND, UTC>:false",
            "device_id:Dictionary<Int32, Utf8>:false",
            "accel_x:Float64:false",
            "accel_y:Float64:false",
            "accel_z:Float64:false",
            "magnitude:Float64:false",
            "temperature:Float64:true",
            "sequence:Int64:false",
          ]);
          const meta = table.schema.metadata;
          expect(meta.get(ARROW_METADATA.patientId)).toBe(patient);
          expect(meta.get(ARROW_METADATA.count)).toBe(String(samples.length));
          expect(meta.get(ARROW_METADATA.nextCursor)).toBe(cursor ?? undefined);
          const rows = rowsOf(table);
          expect(rows).toHaveLength(samples.length);
          // Bit for bit the domain's values (toEqual tells -0 from 0 and matches NaN with NaN).
          expect(rows).toEqual(
            samples.map((s) => ({
              device_id: s.deviceId,
              timestamp: s.timestamp,
              accel_x: s.x,
              accel_y: s.y,
              accel_z: s.z,
              magnitude: s.magnitude,
              temperature: s.temperature ?? null,
              sequence: s.sequence,
            })),
          );
          // The JSON page's samples: the same, once numbers are as JSON writes them.
          const json = JSON.parse(timelinePageJson(patient, page)) as {
            data: Array<Record<string, number | string | null>>;
          };
          expect(
            rows.map((r) => ({
              device_id: r.device_id,
              timestamp: r.timestamp,
              accel_x: asJson(r.accel_x),
              accel_y: asJson(r.accel_y),
              accel_z: asJson(r.accel_z),
              magnitude: asJson(r.magnitude),
              ...(r.temperature !== null ? { temperature: asJson(r.temperature) } : {}),
              sequence: r.sequence,
            })),
          ).toEqual(json.data);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("an empty last page: no rows, no next_cursor", () => {
    const table = tableFromIPC(
      timelinePageArrow(PatientId.make("P-1"), { samples: [], nextCursor: null }),
    );
    expect(table.numRows).toBe(0);
    expect(table.schema.metadata.get(ARROW_METADATA.count)).toBe("0");
    expect(table.schema.metadata.has(ARROW_METADATA.nextCursor)).toBe(false);
  });

  it("refuses a sample the JSON refuses, and a sequence Int64 cannot hold", () => {
    const ok: TimelineSample = {
      deviceId: DeviceId.make("dev-a"),
      timestamp: 1_700_000_000_000 as TimelineSample["timestamp"],
      sequence: 1 as TimelineSample["sequence"],
      x: 0 as TimelineSample["x"],
      y: 0 as TimelineSample["y"],
      z: 1 as TimelineSample["z"],
      magnitude: 1 as TimelineSample["magnitude"],
    };
    const patient = PatientId.make("P-1");
    const arrow = (s: TimelineSample) =>
      timelinePageArrow(patient, { samples: [ok, s], nextCursor: null });
    expect(() => arrow(ok)).not.toThrow();
    expect(() => arrow({ ...ok, timestamp: 1.5 as TimelineSample["timestamp"] })).toThrow();
    expect(() => arrow({ ...ok, sequence: 2.5 as TimelineSample["sequence"] })).toThrow(
      /sequence 2.5/,
    );
    expect(() => arrow({ ...ok, sequence: -1 as TimelineSample["sequence"] })).toThrow();
  });

  it("is asked for by its media type, among others or with parameters; anything else is not Arrow", () => {
    expect(wantsArrow("application/vnd.apache.arrow.stream")).toBe(true);
    expect(wantsArrow("application/json;q=0.5, application/vnd.apache.arrow.stream")).toBe(true);
    expect(wantsArrow("APPLICATION/VND.APACHE.ARROW.STREAM")).toBe(true);
    expect(wantsArrow(undefined)).toBe(false);
    expect(wantsArrow("*/*")).toBe(false);
    expect(wantsArrow("application/vnd.apache.arrow.file")).toBe(false);
    expect(wantsArrow("text/csv")).toBe(false);
  });
});
