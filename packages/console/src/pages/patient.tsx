import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type uPlot from "uplot";
import {
  addDays,
  clampTo,
  duration,
  epochColumns,
  joinCsvPages,
  localDate,
  MIN_SPAN_MS,
  pan,
  resolutionFor,
  type SampleColumns,
  type View,
  zoom,
} from "../activity.js";
import {
  type ActivityDay,
  type ActivityEpoch,
  type Api,
  ApiRefusal,
  ARROW_STREAM,
  type Assignment,
  enc,
} from "../api.js";
import type { ChartData } from "../chart.js";
import type { PageProps } from "../main.js";
import { rememberPatient } from "../patients.js";
import { formatTime, fromLocalInput, zoneLabel } from "../time.js";

const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Raw samples are read in slices of this length side by side, each page by page. */
const SLICE_MS = 15 * 60_000;
const PAGE = 10_000;
/** At most this many raw samples in one view (an hour at 10 Hz is 36,000). */
const MAX_SAMPLES = 100_000;

const SPANS = [
  { label: "Week", ms: 7 * DAY },
  { label: "Day", ms: DAY },
  { label: "Hour", ms: HOUR },
  { label: "Minute", ms: MIN_SPAN_MS },
] as const;

type ChartCode = typeof import("../chart.js");
type EpochPage = { next_cursor: string | null; epochs: ReadonlyArray<ActivityEpoch> };

/** Every page of a view's epochs. */
const readEpochs = async (api: Api, patientId: string, view: View, epochMs: number) => {
  const start = Math.floor(view.start / epochMs) * epochMs;
  const out: Array<ActivityEpoch> = [];
  let cursor: string | null = null;
  do {
    const page: EpochPage = await api.get<EpochPage>(
      `/api/patients/${enc(patientId)}/activity?start_time=${start}&end_time=${view.end}&epoch_ms=${epochMs}${cursor ? `&cursor=${enc(cursor)}` : ""}`,
    );
    out.push(...page.epochs);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return out;
};

/**
 * A view's raw samples: its slices read at once, each page by page, as Arrow (typed arrays,
 * decoded by the chart's code as it arrives); `truncated` past MAX_SAMPLES.
 */
const readSamples = async (
  api: Api,
  patientId: string,
  view: View,
  live: () => boolean,
  chartCode: Promise<ChartCode>,
) => {
  const slices: Array<View> = [];
  for (let t = view.start; t < view.end; t += SLICE_MS)
    slices.push({ start: t, end: Math.min(view.end, t + SLICE_MS) });
  let truncated = false;
  const read = async (slice: View) => {
    const got: Array<SampleColumns> = [];
    let count = 0;
    let cursor: string | null = null;
    do {
      const { bytes } = await api.getBytes(
        `/api/patients/${enc(patientId)}/sensor-data?start_time=${slice.start}&end_time=${slice.end}&limit=${PAGE}${cursor ? `&cursor=${enc(cursor)}` : ""}`,
        ARROW_STREAM,
      );
      const page = (await chartCode).samplePageOfArrow(bytes);
      got.push(page.columns);
      count += page.columns.count;
      cursor = page.nextCursor;
    } while (cursor !== null && count < MAX_SAMPLES / slices.length && live());
    if (cursor !== null) truncated = true;
    return got;
  };
  const parts = await Promise.all(slices.map(read));
  return { pages: parts.flat(), truncated };
};

/** Saves text as a file the browser downloads. */
const download = (name: string, text: string) => {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
};

const hm = (minutes: number) =>
  `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")}`;

/**
 * A patient: the devices they wore over time, the week's activity day by day
 * in the clinic's time zone, and a chart that zooms from the week's epochs
 * down to a minute of raw samples.
 */
export const PatientPage = ({ api, timeZone, patientId }: PageProps & { patientId: string }) => {
  // The clinic's week: the last seven days in its zone, today's so far included.
  const [now, setNow] = useState(() => Date.now());
  const week = useMemo(() => {
    const last = localDate(now, timeZone);
    const first = addDays(last, -6);
    const start = fromLocalInput(`${first}T00:00`, timeZone) ?? now - 7 * DAY;
    return { first, last, start, end: now };
  }, [patientId, timeZone, now]);
  const [history, setHistory] = useState<ReadonlyArray<Assignment> | undefined>();
  const [days, setDays] = useState<ReadonlyArray<ActivityDay> | undefined>();
  // The view is in the address (`?from=…&to=…`, ms): a link or a reload shows the same.
  const [view, showView] = useState<View>(() => {
    const q = new URLSearchParams(location.search);
    const from = Number(q.get("from"));
    const to = Number(q.get("to"));
    return q.has("from") && q.has("to") && to > from
      ? clampTo({ start: from, end: to }, { start: week.start, end: week.end })
      : { start: week.start, end: week.end };
  });
  const [data, setData] = useState<{
    chart: ChartData;
    view: View;
    truncated: boolean;
    /** When it was in hand (`performance.now()`). */
    at: number;
  }>();
  const [error, setError] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [csvBusy, setCsvBusy] = useState<string | undefined>();
  // The chart's element as state, not a ref: when Preact replaces the element (it does when the
  // sections above it change shape, e.g. the devices worn or the days arriving after the chart was
  // drawn), the new one comes here and the chart is drawn again into it — with a ref the chart
  // stayed in the discarded element and the page showed none.
  const [chartBox, setChartBox] = useState<HTMLDivElement | null>(null);
  // When a view was asked for (a button, a key, a drag): its read's wait for the page to start it.
  const asked = useRef<number | undefined>(undefined);
  const setView = (v: View) => {
    asked.current = performance.now();
    showView(v);
  };
  const chart = useRef<uPlot | undefined>(undefined);
  const epochCache = useRef(
    new Map<number, { view: View; epochs: ReadonlyArray<ActivityEpoch> }>(),
  );
  const bounds = { start: week.start, end: week.end };
  const zone = zoneLabel(timeZone);

  useEffect(() => {
    let live = true;
    api
      .get<{ devices: ReadonlyArray<Assignment> }>(
        `/api/patients/${enc(patientId)}/devices?include=history`,
      )
      .then((d) => {
        if (!live) return;
        setHistory(d.devices);
        rememberPatient(patientId, d.devices.find((a) => a.patient_name)?.patient_name ?? null);
      })
      .catch((e) => live && setError(e instanceof ApiRefusal ? e.message : "could not be read"));
    api
      .get<{ days: ReadonlyArray<ActivityDay> }>(
        `/api/patients/${enc(patientId)}/activity/daily?start_date=${week.first}&end_date=${week.last}&tz=${enc(timeZone)}`,
      )
      .then((d) => live && setDays(d.days))
      .catch((e) => live && setError(e instanceof ApiRefusal ? e.message : "could not be read"));
    return () => {
      live = false;
    };
  }, [patientId, week]);

  // The view's data: epochs of a length that suits its span, or its raw samples. A layout
  // effect: the reads start as the view is rendered, not a frame later (Preact runs a plain
  // effect after the next paint).
  useLayoutEffect(() => {
    let live = true;
    const here = `${location.pathname}?from=${view.start}&to=${view.end}`;
    if (view.start !== week.start || view.end !== week.end || location.search !== "")
      globalThis.history.replaceState(globalThis.history.state, "", here);
    setLoading(true);
    // The chart's code loads while the data is read.
    const chartCode = import("../chart.js");
    const t0 = performance.now();
    if (asked.current !== undefined)
      performance.measure("console:view-asked", { start: asked.current, end: t0 });
    asked.current = undefined;
    const load = async (): Promise<{ chart: ChartData; truncated: boolean }> => {
      const resolution = resolutionFor(view.end - view.start);
      if (resolution.kind === "raw") {
        const { pages, truncated } = await readSamples(api, patientId, view, () => live, chartCode);
        const t1 = performance.now();
        const columns = (await chartCode).rawColumnsOfPages(pages, view);
        performance.measure("console:raw-read", { start: t0, end: t1 });
        performance.measure("console:raw-columns", { start: t1, end: performance.now() });
        return { chart: { kind: "raw", columns }, truncated };
      }
      const cached = epochCache.current.get(resolution.epochMs);
      const epochs =
        cached && cached.view.start <= view.start && cached.view.end >= view.end
          ? cached.epochs
          : await readEpochs(api, patientId, view, resolution.epochMs);
      if (!cached || epochs !== cached.epochs)
        epochCache.current.set(resolution.epochMs, { view, epochs });
      const t1 = performance.now();
      const columns = epochColumns(epochs, resolution.epochMs, view);
      performance.measure("console:epochs-read", { start: t0, end: t1 });
      return { chart: { kind: "epochs", columns }, truncated: false };
    };
    Promise.all([load(), chartCode])
      .then(([got]) => {
        if (!live) return;
        setData({ ...got, view, at: performance.now() });
        setError(undefined);
      })
      .catch((e) => live && setError(e instanceof ApiRefusal ? e.message : "could not be read"))
      .finally(() => live && setLoading(false));
    // What is shown zooms at once; its data follows.
    chart.current?.setScale("x", { min: view.start, max: view.end });
    return () => {
      live = false;
    };
  }, [patientId, view]);

  // Drawn as soon as the data is rendered (a layout effect), not after the next paint.
  useLayoutEffect(() => {
    const box = chartBox;
    if (!box || !data) return;
    let disposed = false;
    import("../chart.js")
      .then(({ drawChart }) => {
        if (disposed) return;
        const t = performance.now();
        // From the data in hand to its drawing begun: the page's render and this effect's turn.
        performance.measure("console:render", { start: data.at, end: t });
        chart.current?.destroy();
        chart.current = undefined;
        delete box.dataset.drawn;
        chart.current = drawChart(
          box,
          data.chart,
          data.view,
          timeZone,
          (selected) => setView(zoomTo(selected)),
          () => {
            if (disposed) return;
            performance.measure("console:draw", { start: t, end: performance.now() });
            // What is drawn now (the browser tests and the bench wait for it).
            box.dataset.drawn = data.chart.kind;
          },
        );
      })
      // The chart's code not loaded, or the data not drawn: said on the page, not lost in the console.
      .catch((e: unknown) => {
        if (disposed) return;
        console.error("the chart could not be drawn", e);
        setError(`the chart could not be drawn (${e instanceof Error ? e.message : String(e)})`);
      });
    const onResize = () =>
      chart.current?.setSize({ width: Math.max(280, box.clientWidth), height: 300 });
    addEventListener("resize", onResize);
    return () => {
      disposed = true;
      removeEventListener("resize", onResize);
    };
  }, [data, chartBox]);
  useEffect(
    () => () => {
      chart.current?.destroy();
      chart.current = undefined;
    },
    [],
  );

  const zoomTo = (v: View) =>
    v.end - v.start < MIN_SPAN_MS
      ? zoom(v, MIN_SPAN_MS / (v.end - v.start), bounds)
      : zoom(v, 1, bounds);
  // A span around the view's middle; a view ending now keeps ending now.
  const spanOf = (ms: number) => {
    const middle = (view.start + view.end) / 2;
    setView(
      view.end >= bounds.end
        ? zoomTo({ start: bounds.end - ms, end: bounds.end })
        : zoomTo({ start: middle - ms / 2, end: middle + ms / 2 }),
    );
  };
  // Reads again what has arrived since: a view ending now moves on to the new now.
  const refresh = () => {
    const at = Date.now();
    epochCache.current.clear();
    setNow(at);
    setView(
      view.end >= bounds.end ? { start: at - (view.end - view.start), end: at } : { ...view },
    );
  };
  const onKey = (e: KeyboardEvent) => {
    const act: Record<string, () => void> = {
      "+": () => setView(zoom(view, 0.25, bounds)),
      "=": () => setView(zoom(view, 0.25, bounds)),
      "-": () => setView(zoom(view, 4, bounds)),
      ArrowLeft: () => setView(pan(view, -0.5, bounds)),
      ArrowRight: () => setView(pan(view, 0.5, bounds)),
      Home: () => setView(bounds),
      End: () => setView({ start: bounds.end - (view.end - view.start), end: bounds.end }),
    };
    const f = act[e.key];
    if (f) {
      e.preventDefault();
      f();
    }
  };

  const csv = async (what: "epochs" | "days") => {
    setCsvBusy(what);
    try {
      if (what === "days") {
        const { text } = await api.getText(
          `/api/patients/${enc(patientId)}/activity/daily?start_date=${week.first}&end_date=${week.last}&tz=${enc(timeZone)}`,
          "text/csv",
        );
        download(`${patientId}-days-${week.first}-${week.last}.csv`, text);
      } else {
        const r = resolutionFor(view.end - view.start);
        const epochMs = r.kind === "epochs" ? r.epochMs : 5_000;
        const start = Math.floor(view.start / epochMs) * epochMs;
        const pages: Array<string> = [];
        let cursor: string | null = null;
        do {
          const { text, headers }: { text: string; headers: Headers } = await api.getText(
            `/api/patients/${enc(patientId)}/activity?start_time=${start}&end_time=${view.end}&epoch_ms=${epochMs}${cursor ? `&cursor=${enc(cursor)}` : ""}`,
            "text/csv",
          );
          pages.push(text);
          cursor = headers.get("x-next-cursor");
        } while (cursor);
        download(
          `${patientId}-epochs-${epochMs / 1000}s-${start}-${view.end}.csv`,
          joinCsvPages(pages),
        );
      }
    } catch (e) {
      setError(e instanceof ApiRefusal ? e.message : "the download failed");
    } finally {
      setCsvBusy(undefined);
    }
  };

  const summary = data ? summarise(data.chart, data.view, data.truncated, timeZone) : undefined;
  const shown = data?.view ?? view;
  const resolution = resolutionFor(view.end - view.start);
  const name = history?.find((a) => a.patient_name)?.patient_name;

  return (
    <section aria-labelledby="patient-title">
      <h1 id="patient-title">
        Patient {patientId}
        {name ? ` (${name})` : ""}
      </h1>
      {error && (
        <p role="alert" class="field-error">
          The patient's data could not be read: {error}
        </p>
      )}

      <h2 id="worn-title">Devices worn</h2>
      {history === undefined ? (
        <p>…</p>
      ) : history.length === 0 ? (
        <p>No device has been assigned to this patient.</p>
      ) : (
        <>
          <Bands history={history} range={shown} timeZone={timeZone} />
          <div class="table-wrap">
            <table aria-labelledby="worn-title" data-testid="patient-assignments">
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">From</th>
                  <th scope="col">Until</th>
                  <th scope="col">Assigned by</th>
                  <th scope="col">Outcome</th>
                </tr>
              </thead>
              <tbody>
                {history.map((a) => (
                  <tr key={`${a.device_id}-${a.assignment_timestamp}`}>
                    <th scope="row">
                      <a href={`/devices/${enc(a.device_id)}`}>{a.device_id}</a>
                    </th>
                    <td>{formatTime(a.assignment_timestamp, timeZone)}</td>
                    <td>
                      {a.assignment_end === null ? "now" : formatTime(a.assignment_end, timeZone)}
                    </td>
                    <td>{a.assigned_by}</td>
                    <td>
                      {a.status === "active"
                        ? "Active"
                        : a.status === "completed"
                          ? "Completed"
                          : a.status === "device_returned"
                            ? "Device returned"
                            : "Retracted (entered in error)"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}

      <h2 id="week-title">Activity by day</h2>
      <p class="hint">
        Days in the clinic's time zone, <strong>{zone}</strong>: {week.first} to {week.last}.
        Minutes are of 60-second epochs the device was worn.
      </p>
      {days === undefined ? (
        <p>…</p>
      ) : (
        <div class="table-wrap">
          <table aria-labelledby="week-title" data-testid="activity-days">
            <thead>
              <tr>
                <th scope="col">Day</th>
                <th scope="col">Worn</th>
                <th scope="col">Sedentary (min)</th>
                <th scope="col">Light (min)</th>
                <th scope="col">Moderate (min)</th>
                <th scope="col">Vigorous (min)</th>
                <th scope="col">Steps</th>
                <th scope="col">Data coverage</th>
              </tr>
            </thead>
            <tbody>
              {days.map((d) => (
                <tr key={d.date}>
                  <th scope="row">
                    {new Intl.DateTimeFormat("en-GB", {
                      weekday: "short",
                      day: "numeric",
                      month: "short",
                      timeZone: "UTC",
                    }).format(Date.parse(`${d.date}T00:00:00Z`))}
                  </th>
                  <td>{hm(d.wear_minutes)}</td>
                  <td>{d.sedentary_minutes}</td>
                  <td>{d.light_minutes}</td>
                  <td>{d.moderate_minutes}</td>
                  <td>{d.vigorous_minutes}</td>
                  <td>{d.steps.toLocaleString("en-GB")}</td>
                  <td>{Math.round(d.coverage * 100)} %</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2 id="samples-title">Motion</h2>
      <div class="toolbar" role="toolbar" aria-label="Chart view">
        <span class="toolbar-label" id="span-label">
          Show
        </span>
        {SPANS.map((s) => (
          <button
            type="button"
            key={s.ms}
            class="secondary"
            aria-pressed={
              Math.abs(view.end - view.start - Math.min(s.ms, bounds.end - bounds.start)) < 1000
            }
            aria-describedby="span-label"
            onClick={() => (s.ms >= bounds.end - bounds.start ? setView(bounds) : spanOf(s.ms))}
          >
            {s.label}
          </button>
        ))}
        <button type="button" class="secondary" onClick={() => setView(zoom(view, 0.25, bounds))}>
          Zoom in
        </button>
        <button type="button" class="secondary" onClick={() => setView(zoom(view, 4, bounds))}>
          Zoom out
        </button>
        <button type="button" class="secondary" onClick={() => setView(pan(view, -0.5, bounds))}>
          ← Earlier
        </button>
        <button type="button" class="secondary" onClick={() => setView(pan(view, 0.5, bounds))}>
          Later →
        </button>
        <button type="button" onClick={refresh}>
          Refresh
        </button>
      </div>
      <p class="hint" data-testid="chart-view">
        {formatTime(view.start, timeZone)} to {formatTime(view.end, timeZone)} (
        {duration(view.end - view.start)}),{" "}
        {resolution.kind === "raw"
          ? "raw samples (10 Hz)"
          : `${resolution.epochMs / 1000}-second epochs`}
        .
      </p>
      <p data-testid="chart-summary" aria-live="polite" aria-busy={loading ? "true" : "false"}>
        {summary ?? (error ? "No data could be read." : "Loading…")}
      </p>
      <div
        class="chart"
        ref={setChartBox}
        role="application"
        // biome-ignore lint/a11y/noNoninteractiveTabindex: the chart takes keys when focused (zoom, move)
        tabIndex={0}
        aria-roledescription="chart"
        aria-label={`Motion chart. ${summary ?? ""} Keys: plus and minus zoom, left and right arrows move, Home shows the week, End the latest.`}
        data-testid="chart"
        data-kind={data?.chart.kind}
        data-start={data?.view.start}
        data-end={data?.view.end}
        data-gaps={data ? JSON.stringify(data.chart.columns.gaps) : undefined}
        onKeyDown={onKey}
        onDblClick={() => setView(zoom(view, 4, bounds))}
      />
      <p class="hint">
        Drag across the chart to zoom in; double-click to zoom out; or focus the chart and use + and
        −, ← and →, Home (the week), End (the latest). The week shows 60-second epochs: ENMO and MAD
        (mg), data coverage (%), grey bands where the device was not worn; a view of an hour or less
        shows the raw 10 Hz samples. Gaps in a line are times without data.
      </p>
      <div class="toolbar">
        <button
          type="button"
          class="secondary"
          disabled={csvBusy !== undefined}
          onClick={() => void csv("epochs")}
        >
          {csvBusy === "epochs" ? "Preparing…" : "Download the view's epochs (CSV)"}
        </button>
        <button
          type="button"
          class="secondary"
          disabled={csvBusy !== undefined}
          onClick={() => void csv("days")}
        >
          {csvBusy === "days" ? "Preparing…" : "Download the days (CSV)"}
        </button>
      </div>
    </section>
  );
};

/** The chart in words, for everyone and for screen readers. */
const summarise = (chart: ChartData, view: View, truncated: boolean, timeZone: string): string => {
  const when = `${formatTime(view.start, timeZone)} to ${formatTime(view.end, timeZone)}`;
  const gaps = chart.columns.gaps;
  const longest = gaps.reduce<readonly [number, number] | undefined>(
    (m, g) => (!m || g[1] - g[0] > m[1] - m[0] ? g : m),
    undefined,
  );
  const gapText =
    gaps.length === 0
      ? "No gaps."
      : `${gaps.length} ${gaps.length === 1 ? "gap" : "gaps"} without data${longest ? `, the longest ${duration(longest[1] - longest[0])} from ${formatTime(longest[0], timeZone)}` : ""}.`;
  if (chart.kind === "raw") {
    const c = chart.columns;
    if (c.count === 0) return `No raw samples from ${when}.`;
    return `${c.count.toLocaleString("en-GB")} raw samples from ${c.devices.join(", ")}, ${when}${truncated ? " (the first part only: zoom in)" : ""}. ${gapText}`;
  }
  const c = chart.columns;
  const values = c.enmo.filter((v): v is number => v !== null);
  if (values.length === 0) return `No activity recorded from ${when}.`;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  let peak = 0;
  for (let i = 1; i < c.enmo.length; i++) if ((c.enmo[i] ?? -1) > (c.enmo[peak] ?? -1)) peak = i;
  const worn = c.wear.filter((w) => w === 1).length;
  const recorded = c.wear.filter((w) => w !== null).length;
  return `${values.length.toLocaleString("en-GB")} epochs of ${c.epochMs / 1000} s from ${c.devices.join(", ")}, ${when}: mean ENMO ${Math.round(mean)} mg, highest ${Math.round(c.enmo[peak] ?? 0)} mg at ${formatTime(c.x[peak] as number, timeZone)}; worn in ${Math.round((worn / Math.max(1, recorded)) * 100)} % of recorded epochs. ${gapText}`;
};

/** The assignments as bands across the chart's view: which device was on the patient when. */
const Bands = ({
  history,
  range,
  timeZone,
}: {
  history: ReadonlyArray<Assignment>;
  range: View;
  timeZone: string;
}) => {
  const span = range.end - range.start;
  const shown = history.filter(
    (a) =>
      a.status !== "entered_in_error" &&
      a.assignment_timestamp < range.end &&
      (a.assignment_end ?? range.end) > range.start,
  );
  if (shown.length === 0)
    return <p class="hint">No device was on the patient in the chart's view.</p>;
  return (
    <ul class="bands" aria-label="Devices worn in the chart's view" data-testid="bands">
      {shown.map((a) => {
        const from = Math.max(a.assignment_timestamp, range.start);
        const to = Math.min(a.assignment_end ?? range.end, range.end);
        return (
          <li
            key={`${a.device_id}-${a.assignment_timestamp}`}
            style={{
              marginLeft: `${((from - range.start) / span) * 100}%`,
              width: `${Math.max(0.5, ((to - from) / span) * 100)}%`,
            }}
          >
            <span>
              {a.device_id}: {formatTime(a.assignment_timestamp, timeZone)} –{" "}
              {a.assignment_end === null ? "now" : formatTime(a.assignment_end, timeZone)}
            </span>
          </li>
        );
      })}
    </ul>
  );
};
