/**
 * The patient chart's data, without the chart: which resolution a view is
 * read at (epochs of the length that gives about as many points as the chart
 * has pixels, or the raw samples once the view is short), and the API's
 * answers as uPlot's columns, a gap (no data) being a null point so that no
 * line is drawn across it.
 */
import type { ActivityEpoch } from "./api.js";

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
