import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Sample } from "./api.js";
import { formatTime } from "./time.js";

/** A gap in one device's samples longer than this is drawn as a gap (they come at 10 Hz, a batch a second). */
export const GAP_MS = 3_000;

/**
 * The samples as uPlot's aligned data: one x (time, ms) and one magnitude
 * series per device. `undefined` marks a time where another device has a
 * sample (bridged); `null` a gap in this device's data (drawn as a gap).
 */
export const alignedSeries = (
  samples: ReadonlyArray<Sample>,
): { devices: ReadonlyArray<string>; data: uPlot.AlignedData } => {
  const byDevice = new Map<string, Array<Sample>>();
  for (const s of samples) {
    const list = byDevice.get(s.device_id) ?? [];
    list.push(s);
    byDevice.set(s.device_id, list);
  }
  const devices = [...byDevice.keys()].sort();
  // Each device's points in time order, with a null point in the middle of each gap.
  const points: Array<{ t: number; d: number; v: number | null }> = [];
  devices.forEach((device, d) => {
    const list = (byDevice.get(device) ?? []).sort((a, b) => a.timestamp - b.timestamp);
    let previous: number | undefined;
    for (const s of list) {
      if (previous !== undefined && s.timestamp - previous > GAP_MS)
        points.push({ t: (previous + s.timestamp) / 2, d, v: null });
      points.push({ t: s.timestamp, d, v: s.magnitude });
      previous = s.timestamp;
    }
  });
  points.sort((a, b) => a.t - b.t);
  const xs: Array<number> = [];
  const ys = devices.map(() => [] as Array<number | null | undefined>);
  for (const p of points) {
    if (xs[xs.length - 1] !== p.t) {
      xs.push(p.t);
      for (const y of ys) y.push(undefined);
    }
    (ys[p.d] as Array<number | null | undefined>)[xs.length - 1] = p.v;
  }
  return { devices, data: [xs, ...ys] as uPlot.AlignedData };
};

const COLOURS = ["#1f5fa8", "#b3261e", "#2e7d32", "#6a1b9a", "#8d5a00"];

/** A uPlot chart of magnitude over time, in the clinic's time zone; drag to zoom, double-click to zoom out. */
export const drawChart = (
  target: HTMLElement,
  samples: ReadonlyArray<Sample>,
  range: { readonly start: number; readonly end: number },
  timeZone: string,
): uPlot => {
  const { devices, data } = alignedSeries(samples);
  const width = Math.max(280, target.clientWidth);
  const chart = new uPlot(
    {
      width,
      height: 280,
      ms: 1,
      tzDate: (ts) => uPlot.tzDate(new Date(ts), timeZone),
      scales: { x: { time: true }, y: { auto: true } },
      axes: [
        {
          // 24-hour clock times of the clinic; the date too when the window spans days.
          values: (u, splits) => {
            const span = (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0);
            const f = new Intl.DateTimeFormat("en-GB", {
              timeZone,
              hour: "2-digit",
              minute: "2-digit",
              hourCycle: "h23",
              ...(span < 180_000 ? { second: "2-digit" } : {}),
              ...(span > 86_400_000 ? { day: "numeric", month: "short" } : {}),
            });
            return splits.map((t) => f.format(t));
          },
        },
        { label: "magnitude (g)" },
      ],
      series: [
        {
          label: "time",
          value: (_u, v) => (v === null || v === undefined ? "—" : formatTime(v, timeZone)),
        },
        ...devices.map((d, i) => ({
          label: d,
          stroke: COLOURS[i % COLOURS.length] as string,
          width: 1,
          spanGaps: false,
          points: { show: false },
        })),
      ],
      cursor: { drag: { x: true, y: false } },
    },
    data,
    target,
  );
  // The whole window asked for, also where nothing was recorded.
  chart.setScale("x", { min: range.start, max: range.end });
  return chart;
};
