import { useEffect, useRef, useState } from "preact/hooks";
import type uPlot from "uplot";
import { ApiRefusal, type Assignment, enc, type Sample } from "../api.js";
import type { PageProps } from "../main.js";
import { formatTime } from "../time.js";

const WINDOWS = [
  { label: "Last 15 minutes", ms: 15 * 60_000 },
  { label: "Last hour", ms: 3_600_000 },
  { label: "Last 6 hours", ms: 6 * 3_600_000 },
] as const;

/** At most this many samples in one chart (an hour at 10 Hz is 36,000; the week's view is epochs). */
const MAX_SAMPLES = 100_000;
const PAGE = 10_000;
/** The window is read in slices of this length, side by side. */
const SLICE_MS = 15 * 60_000;

type Timeline = { count: number; next_cursor: string | null; data: ReadonlyArray<Sample> };

/** A patient: the devices they wore over time, and a chart of their samples. */
export const PatientPage = ({ api, timeZone, patientId }: PageProps & { patientId: string }) => {
  const [history, setHistory] = useState<ReadonlyArray<Assignment> | undefined>();
  const [windowMs, setWindowMs] = useState<number>(WINDOWS[0].ms);
  const [range, setRange] = useState(() => ({
    start: Date.now() - WINDOWS[0].ms,
    end: Date.now(),
  }));
  const [samples, setSamples] = useState<ReadonlyArray<Sample> | undefined>();
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const chartBox = useRef<HTMLDivElement>(null);
  const chart = useRef<uPlot | undefined>(undefined);

  const refresh = (ms = windowMs) => {
    const end = Date.now();
    setWindowMs(ms);
    setRange({ start: end - ms, end });
  };

  useEffect(() => {
    let live = true;
    // What is shown stays until the new window's samples are in.
    setLoading(true);
    const load = async () => {
      const devices = api
        .get<{ devices: ReadonlyArray<Assignment> }>(
          `/api/patients/${enc(patientId)}/devices?include=history`,
        )
        .then((d) => live && setHistory(d.devices));
      // Slices of the window are read at once (each page by page): an hour is 36,000 samples.
      const slices: Array<{ start: number; end: number }> = [];
      for (let t = range.start; t < range.end; t += SLICE_MS)
        slices.push({ start: t, end: Math.min(range.end, t + SLICE_MS) });
      let truncatedSlice = false;
      const read = async (slice: { start: number; end: number }) => {
        const got: Array<Sample> = [];
        let cursor: string | null = null;
        do {
          const page: Timeline = await api.get<Timeline>(
            `/api/patients/${enc(patientId)}/sensor-data?start_time=${slice.start}&end_time=${slice.end}&limit=${PAGE}${cursor ? `&cursor=${enc(cursor)}` : ""}`,
          );
          got.push(...page.data);
          cursor = page.next_cursor;
        } while (cursor !== null && got.length < MAX_SAMPLES / slices.length && live);
        if (cursor !== null) truncatedSlice = true;
        return got;
      };
      const all = (await Promise.all(slices.map(read))).flat();
      await devices;
      if (!live) return;
      setTruncated(truncatedSlice);
      setSamples(all);
      setError(undefined);
    };
    load()
      .catch((e) => live && setError(e instanceof ApiRefusal ? e.message : "could not be read"))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [patientId, range]);

  useEffect(() => {
    const box = chartBox.current;
    if (!box || !samples) return;
    let disposed = false;
    void import("../chart.js").then(({ drawChart }) => {
      if (disposed) return;
      chart.current?.destroy();
      chart.current = drawChart(box, samples, range, timeZone);
    });
    const onResize = () =>
      chart.current?.setSize({ width: Math.max(280, box.clientWidth), height: 280 });
    addEventListener("resize", onResize);
    return () => {
      disposed = true;
      removeEventListener("resize", onResize);
      chart.current?.destroy();
      chart.current = undefined;
    };
  }, [samples]);

  const devicesInData = samples ? [...new Set(samples.map((s) => s.device_id))].sort() : [];
  const first = samples?.reduce((m, s) => Math.min(m, s.timestamp), Number.POSITIVE_INFINITY);
  const last = samples?.reduce((m, s) => Math.max(m, s.timestamp), Number.NEGATIVE_INFINITY);
  const summary =
    samples === undefined
      ? error
        ? "No samples could be read."
        : "Loading samples…"
      : samples.length === 0
        ? `No samples between ${formatTime(range.start, timeZone)} and ${formatTime(range.end, timeZone)}.`
        : `${samples.length.toLocaleString("en-GB")} samples from ${devicesInData.join(", ")}, ${formatTime(first as number, timeZone)} to ${formatTime(last as number, timeZone)}${truncated ? " (the first part only: choose a shorter window)" : ""}.`;

  return (
    <section aria-labelledby="patient-title">
      <h1 id="patient-title">
        Patient {patientId}
        {history?.find((a) => a.patient_name)?.patient_name
          ? ` (${history.find((a) => a.patient_name)?.patient_name})`
          : ""}
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
          <Bands history={history} range={range} timeZone={timeZone} />
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
                          : "Device returned"}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}

      <h2 id="samples-title">Motion</h2>
      <fieldset class="toolbar">
        <legend>Time window</legend>
        {WINDOWS.map((w) => (
          <button
            type="button"
            key={w.ms}
            class="secondary"
            aria-pressed={windowMs === w.ms}
            onClick={() => refresh(w.ms)}
          >
            {w.label}
          </button>
        ))}
        <button type="button" onClick={() => refresh()}>
          Refresh
        </button>
      </fieldset>
      <p data-testid="chart-summary" aria-live="polite" aria-busy={loading ? "true" : "false"}>
        {summary}
      </p>
      <div
        class="chart"
        ref={chartBox}
        role="img"
        aria-label={`Acceleration magnitude over time. ${summary}`}
        data-testid="chart"
      />
      <p class="hint">
        Drag across the chart to zoom in; double-click to zoom out. Gaps in the line are times
        without samples.
      </p>
    </section>
  );
};

/** The assignments as bands across the chart's window: which device was on the patient when. */
const Bands = ({
  history,
  range,
  timeZone,
}: {
  history: ReadonlyArray<Assignment>;
  range: { start: number; end: number };
  timeZone: string;
}) => {
  const span = range.end - range.start;
  const shown = history.filter(
    (a) => a.assignment_timestamp < range.end && (a.assignment_end ?? range.end) > range.start,
  );
  if (shown.length === 0)
    return <p class="hint">No device was on the patient in the chart's window.</p>;
  return (
    <ul class="bands" aria-label="Devices worn in the chart's window">
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
