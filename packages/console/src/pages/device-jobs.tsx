import { Fragment } from "preact";
import { useMemo, useState } from "preact/hooks";
import { type Api, ApiRefusal, enc } from "../api.js";
import type { ConfigurationMessages as Messages } from "../configuration-refusals.js";
import { FieldError, SettingsFields } from "../fields.js";
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
import { revalidatedRead } from "../revalidated-read.js";
import type { Session } from "../session.js";
import { readSettingsForm } from "../settings-form.js";
import { formatTime } from "../time.js";
import { usePolled } from "../use-polled.js";

type Read =
  | { readonly state: "ok"; readonly jobs: ReadonlyArray<DeviceJob> }
  | { readonly state: "unavailable"; readonly why: string };

/** The forms a clinician starts jobs with (agent.update needs a bundle: not from here). */
type Startable = Exclude<JobType, "agent.update">;

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
  const read = useMemo(
    () =>
      revalidatedRead<DeviceJobs, Read>(
        api,
        `/api/devices/${enc(deviceId)}/jobs`,
        (body) => ({ state: "ok", jobs: body.jobs }),
        (e) => (e.problem.status === 503 ? { state: "unavailable", why: e.message } : undefined),
      ),
    [api, deviceId],
  );
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
            <SettingsFields
              id={id}
              rate={rate}
              onRate={setRate}
              interval={interval}
              onInterval={setPublishInterval}
              messages={settingsMessages}
            />
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
