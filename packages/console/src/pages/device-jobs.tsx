import { Fragment } from "preact";
import { useMemo, useState } from "preact/hooks";
import { type Api, ApiRefusal, enc } from "../api.js";
import type {
  ConfigurationField,
  ConfigurationMessages as Messages,
} from "../configuration-refusals.js";
import {
  type DeviceJob,
  type DeviceJobs,
  detailsWords,
  ended,
  explainJobRefusal,
  JOB_TYPE_WORDS,
  type JobType,
  jobTypeWords,
  STATUS_WORDS,
  statusTone,
} from "../jobs.js";
import type { Session } from "../session.js";
import { PUBLISH_INTERVAL_HINT, readSettingsForm, SAMPLE_RATE_HINT } from "../settings-form.js";
import { formatTime } from "../time.js";
import { usePolled } from "../use-polled.js";

type Read =
  | { readonly state: "ok"; readonly jobs: ReadonlyArray<DeviceJob> }
  | { readonly state: "unavailable"; readonly why: string };

/** The forms a clinician starts jobs with (agent.update needs a bundle: not from here). */
type Startable = Exclude<JobType, "agent.update">;

const FieldError = ({ id, text }: { id: string; text: string | undefined }) =>
  text ? (
    <p id={id} class="field-error">
      {text}
    </p>
  ) : null;

/**
 * A device's jobs (AWS IoT Jobs; the local stack's emulation of it), newest
 * first, read again every 3 s with the list's ETag; clinicians start an
 * outbox flush, an agent restart or a settings change as a job.
 */
export const DeviceJobsPanel = ({
  api,
  session,
  timeZone,
  deviceId,
}: {
  readonly api: Api;
  readonly session: Session;
  readonly timeZone: string;
  readonly deviceId: string;
}) => {
  const read = useMemo(() => {
    let etag: string | null = null;
    let held: Read | undefined;
    return async (): Promise<{ items: Read; changed: boolean }> => {
      try {
        const answer = await api.getIfChanged<DeviceJobs>(
          `/api/devices/${enc(deviceId)}/jobs`,
          held?.state === "ok" ? etag : null,
        );
        if (answer.unchanged && held) return { items: held, changed: false };
        if (answer.unchanged)
          throw new ApiRefusal({ type: "about:blank", title: "an unasked-for 304", status: 304 });
        etag = answer.etag;
        held = { state: "ok", jobs: answer.body.jobs };
        return { items: held, changed: true };
      } catch (e) {
        if (e instanceof ApiRefusal && e.problem.status === 503) {
          held = { state: "unavailable", why: e.message };
          etag = null;
          return { items: held, changed: true };
        }
        throw e;
      }
    };
  }, [api, deviceId]);
  const polled = usePolled(read, [read]);
  const [rate, setRate] = useState("");
  const [interval, setPublishInterval] = useState("");
  const [messages, setMessages] = useState<Partial<Record<Startable, Messages>>>({});
  const [busy, setBusy] = useState<Startable | undefined>();
  const [announce, setAnnounce] = useState("");
  // Jobs this page created, shown from the API's answer until the list names them.
  const [created, setCreated] = useState<ReadonlyArray<DeviceJob>>([]);
  const clinician = session.role === "clinician";
  const id = (f: string) => `jobs-${deviceId}-${f}`;
  const r = polled.data;
  const jobs: ReadonlyArray<DeviceJob> =
    r?.state === "ok"
      ? [...created.filter((c) => !r.jobs.some((j) => j.job_id === c.job_id)), ...r.jobs]
      : [];

  const start = async (type: Startable, e: Event) => {
    e.preventDefault();
    let body: Record<string, unknown> = { type };
    if (type === "config.set") {
      const form = readSettingsForm(rate, interval);
      if ("messages" in form) {
        setMessages((m) => ({ ...m, [type]: form.messages }));
        return;
      }
      body = { type, settings: form.settings };
    }
    setMessages((m) => ({ ...m, [type]: {} }));
    setBusy(type);
    try {
      const job = await api.post<DeviceJob>(`/api/devices/${enc(deviceId)}/jobs`, body);
      setCreated((c) => [job, ...c]);
      if (type === "config.set") {
        setRate("");
        setPublishInterval("");
      }
      setAnnounce(
        `Job queued: ${JOB_TYPE_WORDS[type]}. The device runs it when it next hears from the Jobs service (${job.job_id}).`,
      );
      polled.refresh();
    } catch (err) {
      setMessages((m) => ({
        ...m,
        [type]:
          err instanceof ApiRefusal
            ? explainJobRefusal(err.problem)
            : { form: "The job could not be sent." },
      }));
    } finally {
      setBusy(undefined);
    }
  };

  const settingsMessages = messages["config.set"] ?? {};
  const described = (f: ConfigurationField, hint: string) =>
    [hint, settingsMessages[f] ? id(`${f}-error`) : undefined].filter(Boolean).join(" ");

  const simpleForm = (
    type: "outbox.flush" | "agent.restart" | "certificate.rotate",
    hint: string,
    button: string,
  ) => {
    const m = messages[type] ?? {};
    const key = type.replace(".", "-");
    return (
      <form
        class="command"
        id={id(key)}
        aria-labelledby={id(`${key}-title`)}
        aria-describedby={m.form ? id(`${key}-error`) : undefined}
        noValidate
        onSubmit={(e) => void start(type, e)}
      >
        <h3 id={id(`${key}-title`)}>{JOB_TYPE_WORDS[type]}</h3>
        <p class="hint">{hint}</p>
        <FieldError id={id(`${key}-error`)} text={m.form} />
        <button type="submit" disabled={busy !== undefined}>
          {button}
        </button>
      </form>
    );
  };

  return (
    <section aria-labelledby={id("title")} class="configuration jobs" data-testid="jobs">
      <h2 id={id("title")}>Jobs</h2>
      <p class="live" aria-live="polite" data-testid="jobs-announce">
        {announce}
      </p>
      {polled.error && (
        <p role="alert" class="field-error">
          The jobs could not be read: {polled.error}.
        </p>
      )}
      {r === undefined ? (
        <p>…</p>
      ) : r.state === "unavailable" ? (
        <p data-testid="jobs-unavailable">The Jobs service is unavailable: {r.why}.</p>
      ) : jobs.length === 0 ? (
        <p data-testid="no-jobs">No job has been sent to this device.</p>
      ) : (
        <div class="table-wrap">
          <table aria-labelledby={id("title")} data-testid="jobs-table">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Status</th>
                <th scope="col">Queued</th>
                <th scope="col">Started</th>
                <th scope="col">Finished</th>
                <th scope="col">What the device said</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => {
                const details = detailsWords(j.status_details);
                return (
                  <tr key={j.job_id} data-job={j.job_id} data-status={j.status}>
                    <th scope="row">
                      {jobTypeWords(j.type)}
                      <br />
                      <span class="muted small">
                        {j.type ?? "other"} · {j.job_id}
                      </span>
                    </th>
                    <td>
                      <span class={`badge ${statusTone(j.status)}`}>{STATUS_WORDS[j.status]}</span>
                    </td>
                    <td>{formatTime(j.queued_at, timeZone)}</td>
                    <td>{j.started_at === null ? "—" : formatTime(j.started_at, timeZone)}</td>
                    <td>{ended(j.status) ? formatTime(j.last_updated_at, timeZone) : "—"}</td>
                    <td>
                      {details.length === 0 ? (
                        <span class="muted">—</span>
                      ) : (
                        <dl class="figures">
                          {details.map((d) => (
                            <Fragment key={d.label}>
                              <dt>{d.label}</dt>
                              <dd>{d.value}</dd>
                            </Fragment>
                          ))}
                        </dl>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}

      {clinician && r !== undefined && (
        <div class="config-forms" data-testid="job-forms">
          {simpleForm(
            "outbox.flush",
            "The device sends every batch of samples it holds now, instead of at its next publish.",
            "Start: send waiting samples",
          )}
          {simpleForm(
            "agent.restart",
            "The device's agent stops and starts again (its samples are kept). For a device that misbehaves.",
            "Start: restart the agent",
          )}
          {simpleForm(
            "certificate.rotate",
            "The device makes a new key and gets a new certificate; the old one is switched off only once the new one has connected. If anything fails, the device keeps its old certificate.",
            "Start: renew the certificate",
          )}
          <form
            class="command"
            id={id("config-set")}
            aria-labelledby={id("config-set-title")}
            noValidate
            onSubmit={(e) => void start("config.set", e)}
          >
            <h3 id={id("config-set-title")}>Change settings as a job</h3>
            <p class="hint">
              The device applies the settings and reports whether it took them, in the list above.
            </p>
            <label for={id("sample_rate_hz")}>Sample rate (Hz)</label>
            <input
              id={id("sample_rate_hz")}
              inputMode="numeric"
              value={rate}
              autocomplete="off"
              aria-invalid={settingsMessages.sample_rate_hz ? true : undefined}
              aria-describedby={described("sample_rate_hz", id("sample_rate_hz-hint"))}
              onInput={(e) => setRate((e.target as HTMLInputElement).value)}
            />
            <p id={id("sample_rate_hz-hint")} class="hint">
              {SAMPLE_RATE_HINT}
            </p>
            <FieldError id={id("sample_rate_hz-error")} text={settingsMessages.sample_rate_hz} />
            <label for={id("interval_ms")}>Publish interval (ms)</label>
            <input
              id={id("interval_ms")}
              inputMode="numeric"
              value={interval}
              autocomplete="off"
              aria-invalid={settingsMessages.interval_ms ? true : undefined}
              aria-describedby={described("interval_ms", id("interval_ms-hint"))}
              onInput={(e) => setPublishInterval((e.target as HTMLInputElement).value)}
            />
            <p id={id("interval_ms-hint")} class="hint">
              {PUBLISH_INTERVAL_HINT}
            </p>
            <FieldError id={id("interval_ms-error")} text={settingsMessages.interval_ms} />
            <FieldError id={id("config-set-error")} text={settingsMessages.form} />
            <button type="submit" disabled={busy !== undefined}>
              Start: change settings
            </button>
          </form>
        </div>
      )}
      {clinician && (
        <p class="hint">
          Updating the agent (a new version's bundle) is not started from here; such jobs show in
          the list.
        </p>
      )}
    </section>
  );
};
