import { RAW_GAP_MS, type RawColumns, type SampleColumns, type View } from "./activity.js";
import type { Sample } from "./api.js";

/*
 * The raw view's columns: loaded with the chart's code (`chart.ts` re-exports
 * what the page calls), not with the first page.
 */

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
