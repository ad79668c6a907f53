import { timelinePageArrow, timelinePageJson } from "@medusa/api";
import { DeviceId, PatientId, type TimelineSample } from "@medusa/domain";
import {
  Dictionary,
  Float32,
  Float64,
  Int16,
  Int32,
  Table,
  TimestampMillisecond,
  tableToIPC,
  Utf8,
  vectorFromArray,
} from "apache-arrow";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RAW_GAP_MS, type RawColumns, type View } from "../src/activity.js";
import type { Sample } from "../src/api.js";
import {
  joinSampleColumns,
  rawColumns,
  rawColumnsOf,
  rawColumnsOfPages,
} from "../src/raw-columns.js";
import { samplePageOfArrow } from "../src/sample-arrow.js";

const T0 = 1_780_000_000_000;
const patient = PatientId.make("P-ARROW");

/** A run of one device's samples: where it starts (0.1 s steps), how many, how far apart. */
const run = fc.tuple(
  fc.constantFrom("dev-a", "dev-b", "dev-c"),
  fc.integer({ min: 0, max: 600 }),
  fc.integer({ min: 0, max: 60 }),
  fc.constantFrom(100, 1_000, 5_000),
  fc.double({ min: 0, max: 27.7, noNaN: true }),
);

type Run = [string, number, number, number, number];

const samplesOf = (runs: ReadonlyArray<Run>): Array<TimelineSample> =>
  runs.flatMap(([device, from, n, step, magnitude]) =>
    Array.from(
      { length: n },
      (_, i): TimelineSample => ({
        deviceId: DeviceId.make(device),
        timestamp: (T0 + from * 100 + i * step) as TimelineSample["timestamp"],
        sequence: i as TimelineSample["sequence"],
        x: 0 as TimelineSample["x"],
        y: 0 as TimelineSample["y"],
        z: 1 as TimelineSample["z"],
        magnitude: (i % 5 === 0 ? -0 : magnitude + i / 1000) as TimelineSample["magnitude"],
        ...(i % 2 === 0 ? { temperature: 30 as NonNullable<TimelineSample["temperature"]> } : {}),
      }),
    ),
  );

/**
 * `rawColumns` as it was over the JSON's sample objects, before the columns
 * were read by index (and one in-order device in a single pass): the rules the
 * chart keeps to.
 */
// biome-ignore format: kept as it was written
const referenceColumns = (samples: ReadonlyArray<Sample>, view: View): RawColumns => {
  const byDevice = new Map<string, Array<Sample>>();
  for (const s of samples) {
    let list = byDevice.get(s.device_id);
    if (!list) {
      list = [];
      byDevice.set(s.device_id, list);
    }
    list.push(s);
  }
  const devices = [...byDevice.keys()].sort();
  const sorted = (list: Array<Sample>) => {
    for (let i = 1; i < list.length; i++)
      if ((list[i] as Sample).timestamp < (list[i - 1] as Sample).timestamp)
        return list.sort((a, b) => a.timestamp - b.timestamp);
    return list;
  };
  const x: Array<number> = [];
  const lines: Array<Array<number | null | undefined>> = devices.map(() => []);
  let times: ReadonlyArray<number>;
  if (devices.length === 1) {
    const list = sorted(byDevice.get(devices[0] as string) as Array<Sample>);
    const line = lines[0] as Array<number | null>;
    let previous: number | undefined;
    for (const s of list) {
      if (s.timestamp === previous) continue;
      if (previous !== undefined && s.timestamp - previous > RAW_GAP_MS) {
        x.push((previous + s.timestamp) / 2);
        line.push(null);
      }
      x.push(s.timestamp);
      line.push(s.magnitude);
      previous = s.timestamp;
    }
    times = list.map((s) => s.timestamp);
  } else {
    const points: Array<{ t: number; d: number; v: number | null }> = [];
    devices.forEach((device, d) => {
      let previous: number | undefined;
      for (const s of sorted(byDevice.get(device) as Array<Sample>)) {
        if (previous !== undefined && s.timestamp - previous > RAW_GAP_MS)
          points.push({ t: (previous + s.timestamp) / 2, d, v: null });
        points.push({ t: s.timestamp, d, v: s.magnitude });
        previous = s.timestamp;
      }
    });
    points.sort((a, b) => a.t - b.t);
    for (const p of points) {
      if (x[x.length - 1] !== p.t) {
        x.push(p.t);
        for (const y of lines) y.push(undefined);
      }
      (lines[p.d] as Array<number | null | undefined>)[x.length - 1] = p.v;
    }
    times = samples.map((s) => s.timestamp).sort((a, b) => a - b);
  }
  // The stretches of the view where no device has a sample for longer than RAW_GAP_MS.
  const gaps: Array<readonly [number, number]> = [];
  let last = view.start;
  for (const t of times) {
    if (t - last > RAW_GAP_MS) gaps.push([last, t]);
    if (t > last) last = t;
  }
  if (view.end - last > RAW_GAP_MS) gaps.push([last, view.end]);
  return { x, lines, devices, count: samples.length, gaps };
};

describe("the raw view's columns from Arrow pages (property)", () => {
  it("keep the rules of rawColumns over sample objects: one device in order (a single pass) or not, several devices", () => {
    fc.assert(
      fc.property(
        fc.array(run, { maxLength: 5 }),
        fc.constantFrom("as read", "reversed", "one device", "one device, repeats"),
        (runs, shape) => {
          const all = samplesOf(runs);
          const samples =
            shape === "reversed"
              ? [...all].reverse()
              : shape.startsWith("one device")
                ? all
                    .filter((s) => s.deviceId === all[0]?.deviceId)
                    .sort((a, b) => a.timestamp - b.timestamp)
                    .flatMap((s, i) => (shape.endsWith("repeats") && i % 4 === 0 ? [s, s] : [s]))
                : all;
          const json = (
            JSON.parse(timelinePageJson(patient, { samples, nextCursor: null })) as {
              data: Array<Sample>;
            }
          ).data;
          const view: View = { start: T0 - 2 * RAW_GAP_MS, end: T0 + 1_000_000 };
          expect(rawColumns(json, view)).toEqual(referenceColumns(json, view));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("are the columns of the same samples read as JSON: pages split anywhere, devices in any order, repeats and gaps", () => {
    fc.assert(
      fc.property(
        fc.array(run, { maxLength: 5 }),
        fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 4 }),
        fc.boolean(),
        (runs, cuts, reverse) => {
          const all = samplesOf(runs);
          const samples = reverse ? [...all, ...all.slice(0, 7)].reverse() : all;
          // The pages as the API writes them (each its own dictionary of devices), cut anywhere.
          const at = [...new Set([0, ...cuts.map((c) => Math.min(c, samples.length))])].sort(
            (a, b) => a - b,
          );
          const pages = at.map((from, k) => samples.slice(from, at[k + 1] ?? samples.length));
          const view: View = { start: T0, end: T0 + 1_000_000 };
          const arrowPages = pages.map(
            (p, k) =>
              samplePageOfArrow(
                timelinePageArrow(patient, {
                  samples: p,
                  nextCursor: k < pages.length - 1 ? `c${k}` : null,
                }),
              ).columns,
          );
          // Page by page (one device in order: a single pass), and joined first.
          const fromArrow = rawColumnsOfPages(arrowPages, view);
          expect(rawColumnsOf(joinSampleColumns(arrowPages), view)).toEqual(fromArrow);
          const fromJson = referenceColumns(
            pages.flatMap(
              (p) =>
                (
                  JSON.parse(timelinePageJson(patient, { samples: p, nextCursor: null })) as {
                    data: Array<Sample>;
                  }
                ).data,
            ),
            view,
          );
          // JSON writes -0 as 0; Arrow keeps it. The chart draws both at 0.
          const zeroed = (c: typeof fromArrow) => ({
            ...c,
            lines: c.lines.map((l) => l.map((v) => (v === 0 ? 0 : v))),
          });
          expect(zeroed(fromArrow)).toEqual(zeroed(fromJson));
          expect(fromArrow.count).toBe(samples.length);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a page's cursor comes from the stream's metadata; an empty last page has none", () => {
    const one = samplesOf([["dev-a", 0, 3, 100, 1]]);
    const page = samplePageOfArrow(
      timelinePageArrow(patient, { samples: one, nextCursor: "next" }),
    );
    expect(page.nextCursor).toBe("next");
    expect(Array.from(page.columns.time)).toEqual([T0, T0 + 100, T0 + 200]);
    expect(page.columns.devices).toEqual(["dev-a"]);
    const last = samplePageOfArrow(timelinePageArrow(patient, { samples: [], nextCursor: null }));
    expect(last.nextCursor).toBeNull();
    expect(last.columns.count).toBe(0);
  });

  it("a page whose columns are not of the types the API writes is refused, not misread", () => {
    const page = (magnitude: Float32 | Float64, indices: Int16 | Int32) =>
      tableToIPC(
        new Table({
          timestamp: vectorFromArray([T0, T0 + 100], new TimestampMillisecond()),
          device_id: vectorFromArray(["dev-a", "dev-a"], new Dictionary(new Utf8(), indices)),
          magnitude: vectorFromArray([1, 2], magnitude),
        }),
        "stream",
      );
    expect(samplePageOfArrow(page(new Float64(), new Int32())).columns).toMatchObject({
      count: 2,
      devices: ["dev-a"],
    });
    // Floats, but 32-bit ones: Arrow's isFloat says yes, the values' array says no.
    expect(() => samplePageOfArrow(page(new Float32(), new Int32()))).toThrow(
      "the page's magnitude values are not the API's Float64Array",
    );
    expect(() => samplePageOfArrow(page(new Float64(), new Int16()))).toThrow(
      "the page's device_id values are not the API's Int32Array",
    );
  });
});
