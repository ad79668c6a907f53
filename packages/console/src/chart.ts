import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { EpochColumns, RawColumns, View } from "./activity.js";
import { formatTime } from "./time.js";

// The raw view's Arrow decoder comes with the chart's code: neither is in the first page's load.
export { rawColumnsOfPages } from "./raw-columns.js";
export { ARROW_STREAM, type SamplePage, samplePageOfArrow } from "./sample-arrow.js";

export type ChartData =
  | { readonly kind: "epochs"; readonly columns: EpochColumns }
  | { readonly kind: "raw"; readonly columns: RawColumns };

const COLOURS = ["#1f5fa8", "#b3261e", "#2e7d32", "#6a1b9a", "#8d5a00"];
/** Non-wear epochs: shaded behind the lines. */
export const NON_WEAR_FILL = "rgba(110, 118, 129, 0.22)";
export const HEIGHT = 300;

const timeAxis = (timeZone: string): uPlot.Axis => {
  const dayOnly = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
  });
  return {
    // Room for a label each: a week gets a tick a day, at the clinic's midnight.
    space: 90,
    // 24-hour clock times of the clinic; the day alone for a tick at midnight of a long view.
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
      return splits.map((t) =>
        span > 2 * 86_400_000 && f.format(t).endsWith("00:00") ? dayOnly.format(t) : f.format(t),
      );
    },
  };
};

/**
 * A uPlot chart of the view: epochs (ENMO and MAD in mg, coverage in %,
 * non-wear shaded) or raw samples (magnitude in g, a line per device), in the
 * clinic's time zone. Nulls in the columns are gaps: no line is drawn across
 * them. Dragging across it calls `onSelect` with the chosen span (the page
 * reads that span's data); uPlot does not zoom by itself. `onDrawn` runs once
 * the data is drawn (uPlot draws in a microtask after the chart is made).
 */
export const drawChart = (
  target: HTMLElement,
  data: ChartData,
  view: View,
  timeZone: string,
  onSelect: (view: View) => void,
  onDrawn?: () => void,
): uPlot => {
  const width = Math.max(280, target.clientWidth);
  const time: uPlot.Series = {
    label: "time",
    value: (_u, v) => (v === null || v === undefined ? "—" : formatTime(v, timeZone)),
  };
  const line = (label: string, colour: string, scale = "y", dash?: Array<number>) => ({
    label,
    scale,
    stroke: colour,
    width: 1.25,
    spanGaps: false,
    points: { show: false },
    ...(dash ? { dash } : {}),
  });
  const hooks: uPlot.Hooks.Arrays = {
    setSelect: [
      (u) => {
        const { left, width: w } = u.select;
        if (w < 4) return;
        const start = u.posToVal(left, "x");
        const end = u.posToVal(left + w, "x");
        u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
        onSelect({ start: Math.round(start), end: Math.round(end) });
      },
    ],
  };
  // uPlot draws in a microtask after it is made: the chart is drawn when its first `draw` hook runs.
  let drawn = false;
  hooks.draw = [
    () => {
      if (drawn) return;
      drawn = true;
      onDrawn?.();
    },
  ];
  let options: uPlot.Options;
  let aligned: uPlot.AlignedData;
  if (data.kind === "epochs") {
    const c = data.columns;
    hooks.drawClear = [
      (u) => {
        // Non-wear: a shaded band behind each run of epochs not worn (one rectangle a run).
        const { ctx } = u;
        const top = u.bbox.top;
        const height = u.bbox.height;
        ctx.save();
        ctx.fillStyle = NON_WEAR_FILL;
        for (let i = 0; i < c.x.length; i++) {
          if (c.wear[i] !== 0) continue;
          const from = c.x[i] as number;
          while (i + 1 < c.x.length && c.wear[i + 1] === 0) i++;
          const x0 = u.valToPos(from, "x", true);
          const x1 = u.valToPos((c.x[i] as number) + c.epochMs, "x", true);
          ctx.fillRect(x0, top, Math.max(1, x1 - x0), height);
        }
        ctx.restore();
      },
    ];
    options = {
      width,
      height: HEIGHT,
      ms: 1,
      // Ticks at the clinic's round times (midnight, whole hours), whatever the browser's zone.
      tzDate: (ts) => uPlot.tzDate(new Date(ts), timeZone),
      scales: { x: { time: true }, y: { auto: true }, pct: { range: [0, 100] } },
      axes: [
        timeAxis(timeZone),
        { label: "ENMO, MAD (mg)", scale: "y" },
        { label: "coverage (%)", scale: "pct", side: 1, grid: { show: false } },
      ],
      series: [
        time,
        line("ENMO (mg)", COLOURS[0] as string),
        line("MAD (mg)", COLOURS[1] as string),
        line("coverage (%)", COLOURS[2] as string, "pct", [4, 3]),
      ],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks,
    };
    aligned = [c.x, c.enmo, c.mad, c.coverage] as uPlot.AlignedData;
  } else {
    const c = data.columns;
    options = {
      width,
      height: HEIGHT,
      ms: 1,
      // Ticks at the clinic's round times (midnight, whole hours), whatever the browser's zone.
      tzDate: (ts) => uPlot.tzDate(new Date(ts), timeZone),
      scales: { x: { time: true }, y: { auto: true } },
      axes: [timeAxis(timeZone), { label: "magnitude (g)" }],
      series: [time, ...c.devices.map((d, i) => line(d, COLOURS[i % COLOURS.length] as string))],
      cursor: { drag: { x: true, y: false, setScale: false } },
      hooks,
    };
    aligned = [c.x, ...c.lines] as uPlot.AlignedData;
  }
  const chart = new uPlot(options, aligned, target);
  // The whole view asked for, also where nothing was recorded.
  chart.setScale("x", { min: view.start, max: view.end });
  return chart;
};
