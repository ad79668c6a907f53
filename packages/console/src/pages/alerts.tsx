import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiRefusal, enc } from "../api.js";
import { type Alert, type FleetDeviceDetail, pagedReader } from "../fleet.js";
import type { PageProps } from "../main.js";
import { ago, formatTime } from "../time.js";
import { usePolled } from "../use-polled.js";

const CLOSE_REASON: Record<NonNullable<Alert["close_reason"]>, string> = {
  "data-resumed": "Data resumed",
  "assignment-ended": "Assignment ended",
};

/**
 * Alerts that closed while this tab watched, newest first. The API lists the
 * open alerts only; a closed one is read from its device's recent alerts.
 */
const cleared = new Map<string, Alert>();
const CLEARED_KEPT = 50;

/**
 * Data-gap alerts: the open ones, live, with acknowledge for clinicians; the
 * ones that cleared while the page was open.
 */
export const AlertsPage = ({ api, session, timeZone }: PageProps) => {
  const read = useMemo(
    () =>
      pagedReader<Alert>(api, "/api/alerts", (body) => {
        const page = body as { alerts: ReadonlyArray<Alert>; next_cursor: string | null };
        return { items: page.alerts, next: page.next_cursor };
      }),
    [api],
  );
  const open = usePolled(read, [read]);
  const [closed, setClosed] = useState<ReadonlyArray<Alert>>(() => [...cleared.values()]);
  const [announce, setAnnounce] = useState("");
  const [busy, setBusy] = useState<string | undefined>();
  const [refusal, setRefusal] = useState<{ id: string; text: string } | undefined>();
  const seen = useRef(new Map<string, Alert>());
  const clinician = session.role === "clinician";

  // An alert gone from the open list has closed: its device's recent alerts say when and why.
  useEffect(() => {
    if (!open.data) return;
    const now = new Map(open.data.map((a) => [a.alert_id, a]));
    const gone = [...seen.current.values()].filter((a) => !now.has(a.alert_id));
    seen.current = now;
    if (gone.length === 0) return;
    let live = true;
    void Promise.all(
      [...new Set(gone.map((a) => a.device_id))].map((id) =>
        api.get<FleetDeviceDetail>(`/api/devices/${enc(id)}`).catch(() => undefined),
      ),
    ).then((details) => {
      const recent = new Map(
        details.flatMap((d) => d?.recent_alerts ?? []).map((a) => [a.alert_id, a]),
      );
      for (const a of gone) {
        const found = recent.get(a.alert_id);
        if (found && found.closed_at !== null) cleared.set(a.alert_id, found);
      }
      const list = [...cleared.values()]
        .sort((x, y) => (y.closed_at ?? 0) - (x.closed_at ?? 0))
        .slice(0, CLEARED_KEPT);
      cleared.clear();
      for (const a of list) cleared.set(a.alert_id, a);
      if (live) {
        setClosed(list);
        setAnnounce(
          gone.length === 1
            ? `The alert of device ${gone[0]?.device_id} cleared.`
            : `${gone.length} alerts cleared.`,
        );
      }
    });
    return () => {
      live = false;
    };
  }, [open.data]);

  const acknowledge = async (a: Alert) => {
    setBusy(a.alert_id);
    setRefusal(undefined);
    try {
      await api.post(`/api/alerts/${enc(a.alert_id)}/acknowledge`, {});
      setAnnounce(`The alert of device ${a.device_id} is acknowledged.`);
      open.refresh();
    } catch (e) {
      const slug = e instanceof ApiRefusal ? e.slug : "";
      setRefusal({
        id: a.alert_id,
        text:
          slug === "forbidden"
            ? "Your role may read but not acknowledge alerts."
            : slug === "alert-not-found"
              ? "This alert is no longer there: it may have cleared."
              : slug === "network-error"
                ? "The server did not answer. Try again."
                : `The server refused: ${e instanceof Error ? e.message : "unknown"}.`,
      });
    } finally {
      setBusy(undefined);
    }
  };

  const now = open.checkedAt ?? Date.now();
  return (
    <section aria-labelledby="alerts-title">
      <h1 id="alerts-title">Alerts</h1>
      <p class="hint">
        A data-gap alert opens when a worn device has sent no sample for a while; it closes by
        itself when data resumes or the assignment ends. Acknowledging says someone is on it.
      </p>
      <p class="live" role="status" aria-live="polite">
        {announce}
      </p>
      <h2 id="open-alerts-title">Open</h2>
      <p class="hint" data-testid="alerts-updated">
        Live: checked every few seconds
        {open.checkedAt ? `, last at ${formatTime(open.checkedAt, timeZone)}` : ""}.
      </p>
      {open.error && (
        <p role="alert" class="field-error">
          The alerts could not be read: {open.error}. They are tried again in a few seconds.
        </p>
      )}
      {open.data === undefined ? (
        <p>Reading the alerts…</p>
      ) : open.data.length === 0 ? (
        <p data-testid="no-open-alerts">No open alerts: every worn device is sending data.</p>
      ) : (
        <div class="table-wrap">
          <table aria-labelledby="open-alerts-title" data-testid="open-alerts">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Patient</th>
                <th scope="col">No data since</th>
                <th scope="col">Raised</th>
                <th scope="col">Acknowledged</th>
                {clinician && <th scope="col">Action</th>}
              </tr>
            </thead>
            <tbody>
              {open.data.map((a) => (
                <tr key={a.alert_id}>
                  <th scope="row">
                    <a href={`/devices/${enc(a.device_id)}`}>{a.device_id}</a>
                  </th>
                  <td>
                    <a href={`/patients/${enc(a.patient_id)}`}>{a.patient_id}</a>
                  </td>
                  <td>
                    {formatTime(a.since, timeZone)} <span class="muted">({ago(a.since, now)})</span>
                  </td>
                  <td>{formatTime(a.raised_at, timeZone)}</td>
                  <td>
                    {a.acknowledged_at === null
                      ? "Not yet"
                      : `by ${a.acknowledged_by ?? "?"}, ${formatTime(a.acknowledged_at, timeZone)}`}
                  </td>
                  {clinician && (
                    <td>
                      {a.acknowledged_at === null && (
                        <button
                          type="button"
                          class="small"
                          disabled={busy === a.alert_id}
                          aria-describedby={
                            refusal?.id === a.alert_id ? `ack-error-${a.alert_id}` : undefined
                          }
                          aria-label={`Acknowledge the alert of device ${a.device_id} (patient ${a.patient_id})`}
                          onClick={() => void acknowledge(a)}
                        >
                          Acknowledge
                        </button>
                      )}
                      {refusal?.id === a.alert_id && (
                        <p id={`ack-error-${a.alert_id}`} class="field-error">
                          {refusal.text}
                        </p>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h2 id="cleared-alerts-title">Cleared while this page was open</h2>
      {closed.length === 0 ? (
        <p class="hint">None yet.</p>
      ) : (
        <div class="table-wrap">
          <table aria-labelledby="cleared-alerts-title" data-testid="cleared-alerts">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Patient</th>
                <th scope="col">No data since</th>
                <th scope="col">Cleared</th>
                <th scope="col">Why</th>
                <th scope="col">Acknowledged</th>
              </tr>
            </thead>
            <tbody>
              {closed.map((a) => (
                <tr key={a.alert_id}>
                  <th scope="row">
                    <a href={`/devices/${enc(a.device_id)}`}>{a.device_id}</a>
                  </th>
                  <td>
                    <a href={`/patients/${enc(a.patient_id)}`}>{a.patient_id}</a>
                  </td>
                  <td>{formatTime(a.since, timeZone)}</td>
                  <td>{a.closed_at === null ? "" : formatTime(a.closed_at, timeZone)}</td>
                  <td>{a.close_reason ? CLOSE_REASON[a.close_reason] : ""}</td>
                  <td>{a.acknowledged_at === null ? "No" : `by ${a.acknowledged_by ?? "?"}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
};
