/**
 * The patient chart's data, without the chart: which resolution a view is
 * read at (epochs of the length that gives about as many points as the chart
 * has pixels, or the raw samples once the view is short), and the API's
 * answers as uPlot's columns, a gap (no data) being a null point so that no
 * line is drawn across it.
 */
import type { ActivityEpoch, Sample } from "./api.js";

/** The epoch lengths the API computes (whole seconds from 5 to 60 that divide a minute). */
export const EPOCH_LENGTHS_MS = [5_000, 6_000, 10_000, 12_000, 15_000, 20_000, 30_000, 60_000];
/** A view this short or shorter shows the raw samples (an hour at 10 Hz: 36,000). */
export const RAW_MAX_SPAN_MS = 3_600_000;
/** The shortest view: a minute of raw samples (600 at 10 Hz). */
export const MIN_SPAN_MS = 60_000;
/** About this many epochs in a view, at most (fewer for a week: 60 s is the longest epoch). */
const TARGET_POINTS = 1_500;
/** A gap in one device's raw samples longer than this is drawn as a gap (10 Hz, a batch a second). */
export const RAW_GAP_MS = 3_000;

export type Resolution =
  | { readonly kind: "raw" }
  | { readonly kind: "epochs"; readonly epochMs: number };

/** What a view of this span is read at. */
export const resolutionFor = (spanMs: number): Resolution => {
  if (spanMs <= RAW_MAX_SPAN_MS) return { kind: "raw" };
  const epochMs =
    EPOCH_LENGTHS_MS.find((ms) => spanMs / ms <= TARGET_POINTS) ??
    (EPOCH_LENGTHS_MS.at(-1) as number);
  return { kind: "epochs", epochMs };
};

export interface View {
  readonly start: number;
  readonly end: number;
}

/**
 * The view zoomed by `factor` (< 1 in, > 1 out) around its middle, kept
 * within [MIN_SPAN_MS, bounds]; a view that ends at the latest time keeps
 * ending there (zooming in on the latest data).
 */
export const zoom = (view: View, factor: number, bounds: View): View => {
  const span = Math.min(
    bounds.end - bounds.start,
    Math.max(MIN_SPAN_MS, (view.end - view.start) * factor),
  );
  if (view.end >= bounds.end) return clampTo({ start: bounds.end - span, end: bounds.end }, bounds);
  const middle = (view.start + view.end) / 2;
  return clampTo({ start: middle - span / 2, end: middle + span / 2 }, bounds);
};

/** The view moved by `fraction` of its span (negative: earlier), kept within the bounds. */
export const pan = (view: View, fraction: number, bounds: View): View => {
  const shift = (view.end - view.start) * fraction;
  return clampTo({ start: view.start + shift, end: view.end + shift }, bounds);
};

/** A view of the same span moved inside the bounds, whole milliseconds. */
export const clampTo = (view: View, bounds: View): View => {
  const span = Math.min(view.end - view.start, bounds.end - bounds.start);
  let start = Math.max(bounds.start, view.start);
  if (start + span > bounds.end) start = bounds.end - span;
  return { start: Math.round(start), end: Math.round(start + span) };
};

/** Epoch columns: time, ENMO, MAD (mg), coverage (%), and whether worn (1, 0, or null: no data). */
export interface EpochColumns {
  readonly x: Array<number>;
  readonly enmo: Array<number | null>;
  readonly mad: Array<number | null>;
  readonly coverage: Array<number | null>;
  readonly wear: Array<0 | 1 | null>;
  readonly epochMs: number;
  readonly devices: ReadonlyArray<string>;
  /** The stretches without data inside the view, [start, end) each. */
  readonly gaps: ReadonlyArray<readonly [number, number]>;
}

/**
 * The patient's epochs as one line per metric, in time order. A patient wears
 * one device at a time; where two devices have the same epoch (a hand-over's
 * minute), the one with more samples is shown. A time without an epoch, or an
 * epoch without samples, is a gap: one null point at its start.
 */
export const epochColumns = (
  epochs: ReadonlyArray<ActivityEpoch>,
  epochMs: number,
  view: View,
): EpochColumns => {
  const best = new Map<number, ActivityEpoch>();
  for (const e of epochs) {
    const other = best.get(e.time);
    if (!other || e.samples > other.samples) best.set(e.time, e);
  }
  const times = [...best.keys()].filter((t) => t > view.start - epochMs && t < view.end);
  times.sort((a, b) => a - b);
  const out: EpochColumns = {
    x: [],
    enmo: [],
    mad: [],
    coverage: [],
    wear: [],
    epochMs,
    devices: [...new Set(epochs.map((e) => e.device_id))].sort(),
    gaps: [],
  };
  const gaps = out.gaps as Array<readonly [number, number]>;
  /** A stretch without data, as far as the view shows it; one gap with the stretch just before. */
  const gap = (from: number, to: number) => {
    const a = Math.max(view.start, from);
    const b = Math.min(view.end, to);
    if (b <= a) return;
    const last = gaps.at(-1);
    if (last && last[1] >= a) gaps[gaps.length - 1] = [last[0], Math.max(last[1], b)];
    else gaps.push([a, b]);
  };
  const nothing = (t: number) => {
    out.x.push(t);
    out.enmo.push(null);
    out.mad.push(null);
    out.coverage.push(null);
    out.wear.push(null);
  };
  let expected = Math.ceil(view.start / epochMs) * epochMs;
  for (const t of times) {
    const e = best.get(t) as ActivityEpoch;
    if (t > expected) {
      nothing(expected);
      gap(expected, t);
    }
    if (e.samples === 0) {
      nothing(t);
      gap(t, t + epochMs);
    } else {
      out.x.push(t);
      out.enmo.push(e.enmo_mg);
      out.mad.push(e.mad_mg);
      out.coverage.push(Math.round(e.coverage * 1000) / 10);
      out.wear.push(e.wear ? 1 : 0);
    }
    expected = t + epochMs;
  }
  if (expected < view.end) {
    nothing(Math.max(expected, times.length === 0 ? view.start : expected));
    gap(expected, view.end);
  }
  return out;
};

/** Raw columns: time, then one magnitude line per device; null: a gap in that device's samples. */
export interface RawColumns {
  readonly x: Array<number>;
  readonly lines: ReadonlyArray<Array<number | null | undefined>>;
  readonly devices: ReadonlyArray<string>;
  readonly count: number;
  readonly gaps: ReadonlyArray<readonly [number, number]>;
}

/**
 * Samples as columns: what the raw view needs of each. The console reads them
 * as Arrow (`sample-arrow.ts`: the typed arrays as they arrive); `sampleColumnsOf`
 * makes them of the JSON's samples. `device[i]` indexes `devices`.
 */
export interface SampleColumns {
  readonly count: number;
  /** Unix ms. */
  readonly time: ArrayLike<number>;
  readonly device: ArrayLike<number>;
  readonly devices: ReadonlyArray<string>;
  /** g; NaN where a sample has none (JSON's null). */
  readonly magnitude: ArrayLike<number>;
}

/** The JSON's samples as columns. */
export const sampleColumnsOf = (samples: ReadonlyArray<Sample>): SampleColumns => {
  const devices: Array<string> = [];
  const index = new Map<string, number>();
  const device = new Int32Array(samples.length);
  const time = new Float64Array(samples.length);
  const magnitude = new Float64Array(samples.length);
  samples.forEach((s, i) => {
    let d = index.get(s.device_id);
    if (d === undefined) {
      d = devices.length;
      devices.push(s.device_id);
      index.set(s.device_id, d);
    }
    device[i] = d;
    time[i] = s.timestamp;
    magnitude[i] = s.magnitude ?? Number.NaN;
  });
  return { count: samples.length, time, device, devices, magnitude };
};

/** Pages of columns (each with its own devices) as one, in the order given. */
export const joinSampleColumns = (parts: ReadonlyArray<SampleColumns>): SampleColumns => {
  if (parts.length === 1) return parts[0] as SampleColumns;
  const count = parts.reduce((n, p) => n + p.count, 0);
  const time = new Float64Array(count);
  const magnitude = new Float64Array(count);
  const device = new Int32Array(count);
  const devices: Array<string> = [];
  const index = new Map<string, number>();
  let at = 0;
  for (const p of parts) {
    const mapped = p.devices.map((name) => {
      let d = index.get(name);
      if (d === undefined) {
        d = devices.length;
        devices.push(name);
        index.set(name, d);
      }
      return d;
    });
    for (let i = 0; i < p.count; i++) {
      time[at] = p.time[i] as number;
      magnitude[at] = p.magnitude[i] as number;
      device[at] = mapped[p.device[i] as number] as number;
      at++;
    }
  }
  return { count, time, device, devices, magnitude };
};

/**
 * The samples as uPlot's aligned columns. One device (the usual case) is a
 * single pass over its samples in time order. With several, each has its own
 * line; `undefined` marks another device's time (bridged), `null` a gap.
 * Gaps are stretches of the view where no device has a sample for longer than
 * RAW_GAP_MS.
 */
export const rawColumns = (samples: ReadonlyArray<Sample>, view: View): RawColumns =>
  rawColumnsOf(sampleColumnsOf(samples), view);

/** `rawColumns` of samples as columns (Arrow's typed arrays): the same rules, sample by index. */
export const rawColumnsOf = (c: SampleColumns, view: View): RawColumns =>
  rawColumnsOfPages([c], view);

/**
 * `rawColumnsOf` the pages joined. The usual case, one device's samples read in
 * time order (the slices' pages in order), is a single pass over the pages as
 * they came, with no copy or index list; anything else is joined and grouped
 * by device.
 */
export const rawColumnsOfPages = (pages: ReadonlyArray<SampleColumns>, view: View): RawColumns => {
  const read = pages.filter((p) => p.count > 0);
  const first = read[0];
  const only = first ? first.devices[first.device[0] as number] : undefined;
  let inOrder = only !== undefined;
  let before = Number.NEGATIVE_INFINITY;
  for (const p of read) {
    const oneDevice = p.devices.length === 1 && p.devices[0] === only;
    for (let i = 0; i < p.count && inOrder; i++) {
      const ti = p.time[i] as number;
      inOrder = ti >= before && (oneDevice || p.devices[p.device[i] as number] === only);
      before = ti;
    }
    if (!inOrder) return byDevice(joinSampleColumns(pages), view);
  }
  if (!inOrder) return byDevice(joinSampleColumns(pages), view);
  const x: Array<number> = [];
  const line: Array<number | null> = [];
  const gaps: Array<readonly [number, number]> = [];
  let previous: number | undefined;
  let last = view.start;
  let count = 0;
  for (const p of read) {
    const t = p.time;
    const m = p.magnitude;
    for (let i = 0; i < p.count; i++) {
      const ti = t[i] as number;
      // The view's gaps (as gapsOf), of every sample read.
      if (ti - last > RAW_GAP_MS) gaps.push([last, ti]);
      if (ti > last) last = ti;
      if (ti === previous) continue;
      if (previous !== undefined && ti - previous > RAW_GAP_MS) {
        x.push((previous + ti) / 2);
        line.push(null);
      }
      x.push(ti);
      const v = m[i] as number;
      line.push(Number.isNaN(v) ? null : v);
      previous = ti;
    }
    count += p.count;
  }
  if (view.end - last > RAW_GAP_MS) gaps.push([last, view.end]);
  return { x, lines: [line], devices: [only as string], count, gaps };
};

/** The columns of samples of several devices, or read out of order: each device's line. */
const byDevice = (c: SampleColumns, view: View): RawColumns => {
  const t = c.time;
  const value = (i: number): number | null => {
    const m = c.magnitude[i] as number;
    return Number.isNaN(m) ? null : m;
  };
  // A device's samples (their indexes, in the order read), by the device's name.
  const byName = new Map<string, Array<number>>();
  const groupOf = c.devices.map((name) => {
    let list = byName.get(name);
    if (!list) {
      list = [];
      byName.set(name, list);
    }
    return list;
  });
  for (let i = 0; i < c.count; i++) (groupOf[c.device[i] as number] as Array<number>).push(i);
  const byDevice = new Map([...byName].filter(([, list]) => list.length > 0));
  const devices = [...byDevice.keys()].sort();
  // In time order; a stable sort, so samples of one time stay in the order read.
  const sorted = (list: Array<number>) => {
    for (let k = 1; k < list.length; k++)
      if ((t[list[k] as number] as number) < (t[list[k - 1] as number] as number))
        return list.sort((a, b) => (t[a] as number) - (t[b] as number));
    return list;
  };
  const x: Array<number> = [];
  const lines: Array<Array<number | null | undefined>> = devices.map(() => []);
  let times: ArrayLike<number>;
  if (devices.length === 1) {
    const list = sorted(byDevice.get(devices[0] as string) as Array<number>);
    const line = lines[0] as Array<number | null>;
    let previous: number | undefined;
    for (const i of list) {
      const ti = t[i] as number;
      if (ti === previous) continue;
      if (previous !== undefined && ti - previous > RAW_GAP_MS) {
        x.push((previous + ti) / 2);
        line.push(null);
      }
      x.push(ti);
      line.push(value(i));
      previous = ti;
    }
    times = list.map((i) => t[i] as number);
  } else {
    const points: Array<{ t: number; d: number; v: number | null }> = [];
    devices.forEach((device, d) => {
      let previous: number | undefined;
      for (const i of sorted(byDevice.get(device) as Array<number>)) {
        const ti = t[i] as number;
        if (previous !== undefined && ti - previous > RAW_GAP_MS)
          points.push({ t: (previous + ti) / 2, d, v: null });
        points.push({ t: ti, d, v: value(i) });
        previous = ti;
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
    times = Float64Array.from({ length: c.count }, (_, i) => t[i] as number).sort();
  }
  return { x, lines, devices, count: c.count, gaps: gapsOf(times, view) };
};

/** The stretches of the view where no device has a sample for longer than RAW_GAP_MS (times in order). */
const gapsOf = (times: ArrayLike<number>, view: View): Array<readonly [number, number]> => {
  const gaps: Array<readonly [number, number]> = [];
  let last = view.start;
  for (let k = 0; k < times.length; k++) {
    const tk = times[k] as number;
    if (tk - last > RAW_GAP_MS) gaps.push([last, tk]);
    if (tk > last) last = tk;
  }
  if (view.end - last > RAW_GAP_MS) gaps.push([last, view.end]);
  return gaps;
};

/** "2 h 05 min", "45 s": a duration as the summary says it. */
export const duration = (ms: number): string => {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.round(h / 24)} days`;
};

/** Today's date in the zone, YYYY-MM-DD. */
export const localDate = (ms: number, timeZone: string): string =>
  new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(ms);

/** The date `days` after a YYYY-MM-DD date (negative: before). */
export const addDays = (date: string, days: number): string =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/**
 * Joins the CSV pages of one download: the first page whole but for its
 * "more: repeat with cursor" line, of the others only the rows (their `#`
 * lines and header dropped).
 */
export const joinCsvPages = (pages: ReadonlyArray<string>): string =>
  pages
    .flatMap((page, i) => {
      const lines = page.split("\r\n").filter((l) => l !== "");
      if (i === 0) return lines.filter((l) => !l.startsWith("# more:"));
      const body = lines.filter((l) => !l.startsWith("#"));
      return body.slice(1);
    })
    .map((l) => `${l}\r\n`)
    .join("");
