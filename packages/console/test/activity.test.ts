import { describe, expect, it } from "vitest";
import {
  addDays,
  clampTo,
  epochColumns,
  joinCsvPages,
  localDate,
  MIN_SPAN_MS,
  pan,
  RAW_MAX_SPAN_MS,
  resolutionFor,
  zoom,
} from "../src/activity.js";
import type { ActivityEpoch, Sample } from "../src/api.js";
import { rawColumns } from "../src/raw-columns.js";

const MIN = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

const epoch = (time: number, over: Partial<ActivityEpoch> = {}): ActivityEpoch => ({
  time,
  epoch_ms: MIN,
  device_id: "dev-a",
  enmo_mg: 20,
  mad_mg: 30,
  samples: 600,
  expected_samples: 600,
  coverage: 1,
  wear: true,
  intensity: "sedentary",
  steps: 0,
  cadence_spm: 0,
  ...over,
});

const sample = (timestamp: number, device_id = "dev-a", magnitude = 1): Sample => ({
  device_id,
  timestamp,
  accel_x: 0,
  accel_y: 0,
  accel_z: magnitude,
  magnitude,
  sequence: timestamp,
});

describe("what a view is read at", () => {
  it("a week and a day at 60 s epochs, shorter views at shorter epochs, an hour or less raw", () => {
    expect(resolutionFor(7 * DAY)).toEqual({ kind: "epochs", epochMs: 60_000 });
    expect(resolutionFor(DAY)).toEqual({ kind: "epochs", epochMs: 60_000 });
    expect(resolutionFor(6 * HOUR)).toEqual({ kind: "epochs", epochMs: 15_000 });
    expect(resolutionFor(2 * HOUR)).toEqual({ kind: "epochs", epochMs: 5_000 });
    expect(resolutionFor(RAW_MAX_SPAN_MS)).toEqual({ kind: "raw" });
    expect(resolutionFor(MIN)).toEqual({ kind: "raw" });
  });

  it("zooms around the middle, from the week to a minute and back, within the week", () => {
    const week = { start: 0, end: 7 * DAY };
    let view = { start: 0, end: 7 * DAY - 1 };
    let steps = 0;
    while (view.end - view.start > MIN_SPAN_MS) {
      view = zoom(view, 0.25, week);
      steps++;
    }
    expect(view.end - view.start).toBe(MIN_SPAN_MS);
    expect((view.start + view.end) / 2).toBeCloseTo(3.5 * DAY, -3);
    expect(steps).toBe(7);
    expect(zoom(view, 1e9, week)).toEqual(week);
    // A view ending at the latest time keeps ending there.
    expect(zoom(week, 0.25, week)).toEqual({ start: 5.25 * DAY, end: 7 * DAY });
    expect(zoom({ start: 6 * DAY, end: 7 * DAY }, 4, week)).toEqual({
      start: 3 * DAY,
      end: 7 * DAY,
    });
    expect(pan({ start: 0, end: DAY }, -0.5, week)).toEqual({ start: 0, end: DAY });
    expect(pan({ start: 0, end: DAY }, 0.5, week)).toEqual({ start: DAY / 2, end: 1.5 * DAY });
    expect(clampTo({ start: 6.5 * DAY, end: 7.5 * DAY }, week)).toEqual({
      start: 6 * DAY,
      end: 7 * DAY,
    });
  });
});

describe("epochs as chart columns", () => {
  it("a missing stretch and an epoch without samples are null points (gaps), the view's ends too", () => {
    const view = { start: 0, end: 10 * MIN };
    const epochs = [
      epoch(0),
      epoch(MIN, { wear: false, enmo_mg: 1 }),
      // 2, 3, 4 missing
      epoch(5 * MIN, { samples: 0, coverage: 0 }),
      epoch(6 * MIN, { coverage: 0.5 }),
      epoch(6 * MIN, { device_id: "dev-b", samples: 10, enmo_mg: 999 }),
      epoch(7 * MIN),
    ];
    const c = epochColumns(epochs, MIN, view);
    expect(c.x).toEqual([0, MIN, 2 * MIN, 5 * MIN, 6 * MIN, 7 * MIN, 8 * MIN]);
    expect(c.enmo).toEqual([20, 1, null, null, 20, 20, null]);
    expect(c.wear).toEqual([1, 0, null, null, 1, 1, null]);
    expect(c.coverage).toEqual([100, 100, null, null, 50, 100, null]);
    expect(c.gaps).toEqual([
      [2 * MIN, 6 * MIN],
      [8 * MIN, 10 * MIN],
    ]);
    expect(c.devices).toEqual(["dev-a", "dev-b"]);
  });

  it("a view with no epochs is one gap", () => {
    const c = epochColumns([], MIN, { start: 0, end: HOUR });
    expect(c.enmo).toEqual([null]);
    expect(c.gaps).toEqual([[0, HOUR]]);
  });
});

describe("raw samples as chart columns", () => {
  it("one device: in time order, a null point in each gap longer than 3 s", () => {
    const samples = [0, 100, 200, 10_000, 10_100].map((t) => sample(t));
    const c = rawColumns([...samples].reverse(), { start: 0, end: 10_200 });
    expect(c.x).toEqual([0, 100, 200, 5_100, 10_000, 10_100]);
    expect(c.lines).toEqual([[1, 1, 1, null, 1, 1]]);
    expect(c.gaps).toEqual([[200, 10_000]]);
    expect(c.count).toBe(5);
  });

  it("several devices: a line each, another device's times bridged, the gaps where none has data", () => {
    const c = rawColumns(
      [sample(0), sample(100, "dev-b", 2), sample(5_000), sample(5_050, "dev-b", 2)],
      {
        start: 0,
        end: 9_000,
      },
    );
    expect(c.devices).toEqual(["dev-a", "dev-b"]);
    expect(c.x).toEqual([0, 100, 2_500, 2_575, 5_000, 5_050]);
    expect(c.lines[0]).toEqual([1, undefined, null, undefined, 1, undefined]);
    expect(c.lines[1]).toEqual([undefined, 2, undefined, null, undefined, 2]);
    expect(c.gaps).toEqual([
      [100, 5_000],
      [5_050, 9_000],
    ]);
  });
});

describe("days and downloads", () => {
  it("the clinic's date, and days before it", () => {
    const at = Date.UTC(2026, 10, 29, 23, 30); // already the 30th in Berlin
    expect(localDate(at, "Europe/Berlin")).toBe("2026-11-30");
    expect(localDate(at, "UTC")).toBe("2026-11-29");
    expect(addDays("2026-03-01", -6)).toBe("2026-02-23");
  });

  it("CSV pages joined: one header, the rows of every page, no 'more' line", () => {
    const first = "# patient P\r\n# more: repeat with cursor=abc\r\ntime,enmo_mg\r\n1,2\r\n";
    const second = "# patient P\r\ntime,enmo_mg\r\n3,4\r\n";
    expect(joinCsvPages([first, second])).toBe("# patient P\r\ntime,enmo_mg\r\n1,2\r\n3,4\r\n");
  });
});
