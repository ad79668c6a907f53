import { useMemo, useState } from "preact/hooks";
import { type Api, ApiRefusal, enc } from "../api.js";
import {
  explainConfigurationRefusal,
  type ConfigurationMessages as Messages,
} from "../configuration-refusals.js";
import { FieldError, NumberField, SettingsFields } from "../fields.js";
import { revalidatedRead } from "../revalidated-read.js";
import type { Session } from "../session.js";
import { readSettingsForm } from "../settings-form.js";
import { ago, formatTime } from "../time.js";
import { usePolled } from "../use-polled.js";

/** The settings as the API shows them (`DeviceConfiguration`'s `desired`). */
interface Settings {
  readonly sensor?: { readonly sample_rate_hz?: number };
  readonly publish?: {
    readonly interval_ms?: number;
    readonly status_interval_ms?: number;
    readonly live_interval_ms?: number;
    readonly live_until?: number;
  };
}

/** The device's last report (`ReportedDeviceState`). */
interface Reported {
  readonly agent: { readonly version: string };
  readonly sensor: {
    readonly model: string;
    readonly healthy: boolean;
    readonly error?: string | null;
    readonly sample_rate_hz: number;
  };
  readonly publish: {
    readonly interval_ms: number;
    readonly status_interval_ms: number;
    readonly live_interval_ms?: number;
    readonly live_until?: number;
    readonly effective_interval_ms: number;
    readonly basic_ingest: boolean;
    readonly last_publish_at?: number | null;
  };
  readonly outbox: { readonly depth: number; readonly bytes: number; readonly drops: number };
  readonly reconnects: number;
  readonly uptime_s: number;
  readonly wifi?: { readonly connected: boolean; readonly ssid?: string | null };
  readonly cpu_temperature_c?: number | null;
  readonly timestamp: number;
}

interface Configuration {
  readonly device_id: string;
  readonly version: number;
  readonly desired: Settings;
  readonly reported: Reported | null;
  readonly pending: ReadonlyArray<string>;
  readonly refused: ReadonlyArray<{ readonly setting: string; readonly reason: string }>;
  readonly desired_at: number | null;
  readonly reported_at: number | null;
}

type Read =
  | { readonly state: "ok"; readonly config: Configuration }
  | { readonly state: "no-shadow" }
  | { readonly state: "unavailable"; readonly why: string };

const wholeNumber = (v: string) => (/^\s*\d+\s*$/.test(v) ? Number(v) : undefined);
const seconds = (ms: number) =>
  ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toLocaleString("en-GB")} s`;
const kb = (bytes: number) =>
  `${(bytes / 1024).toLocaleString("en-GB", { maximumFractionDigits: 1 })} KB`;

/**
 * A device's configuration through its shadow: what is asked of it (desired)
 * beside what it runs with (reported), the settings it refused, its status
 * figures; clinicians change the sample rate and publish interval and start
 * or end live mode.
 */
export const DeviceConfiguration = ({
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
      revalidatedRead<Configuration, Read>(
        api,
        `/api/devices/${enc(deviceId)}/configuration`,
        (config) => ({ state: "ok", config }),
        (e) =>
          e.slug === "device-shadow-not-found"
            ? { state: "no-shadow" }
            : e.problem.status === 503
              ? { state: "unavailable", why: e.message }
              : undefined,
      ),
    [api, deviceId],
  );
  const polled = usePolled(read, [read]);
  const [rate, setRate] = useState("");
  const [interval, setPublishInterval] = useState("");
  const [liveInterval, setLiveInterval] = useState("1000");
  const [liveMinutes, setLiveMinutes] = useState("5");
  const [messages, setMessages] = useState<Messages>({});
  const [liveMessages, setLiveMessages] = useState<Messages>({});
  const [busy, setBusy] = useState(false);
  const [announce, setAnnounce] = useState("");
  const clinician = session.role === "clinician";
  const id = (f: string) => `config-${deviceId}-${f}`;

  const r = polled.data;
  const config = r?.state === "ok" ? r.config : undefined;
  const reported = config?.reported ?? null;
  const now = polled.checkedAt ?? Date.now();
  const refusedOf = (key: string) => config?.refused.find((x) => x.setting === key)?.reason;
  const pending = (key: string) => config?.pending.includes(key) ?? false;
  const liveUntil = config?.desired.publish?.live_until;
  const liveOn = liveUntil !== undefined && liveUntil > now;

  const submit = async (e: Event) => {
    e.preventDefault();
    const read = readSettingsForm(rate, interval);
    setMessages("messages" in read ? read.messages : {});
    if ("messages" in read) return;
    setBusy(true);
    try {
      await api.send("PATCH", `/api/devices/${enc(deviceId)}/configuration`, read.settings);
      setRate("");
      setPublishInterval("");
      setAnnounce(
        "Settings stored. The device takes them when it next hears from its shadow, and reports them.",
      );
      polled.refresh();
    } catch (err) {
      setMessages(
        err instanceof ApiRefusal
          ? explainConfigurationRefusal(err.problem)
          : { form: "The change could not be sent." },
      );
    } finally {
      setBusy(false);
    }
  };

  const startLive = async (e: Event) => {
    e.preventDefault();
    const out: Messages = {};
    const ms = wholeNumber(liveInterval);
    const minutes = wholeNumber(liveMinutes);
    if (ms === undefined) out.live_interval_ms = "The interval is a whole number of milliseconds.";
    if (minutes === undefined) out.duration_min = "The duration is a whole number of minutes.";
    setLiveMessages(out);
    if (ms === undefined || minutes === undefined) return;
    setBusy(true);
    try {
      await api.post(`/api/devices/${enc(deviceId)}/live`, {
        interval_ms: ms,
        duration_s: minutes * 60,
      });
      setAnnounce(`Live mode started for ${minutes} minutes.`);
      polled.refresh();
    } catch (err) {
      setLiveMessages(
        err instanceof ApiRefusal
          ? explainConfigurationRefusal(err.problem)
          : { form: "Live mode could not be started." },
      );
    } finally {
      setBusy(false);
    }
  };

  const endLive = async () => {
    setBusy(true);
    try {
      await api.send("DELETE", `/api/devices/${enc(deviceId)}/live`);
      setAnnounce("Live mode ended.");
      polled.refresh();
    } catch (err) {
      setLiveMessages(
        err instanceof ApiRefusal
          ? explainConfigurationRefusal(err.problem)
          : { form: "Live mode could not be ended." },
      );
    } finally {
      setBusy(false);
    }
  };

  const row = (label: string, key: string, desired: string, reportedValue: string) => {
    const refused = refusedOf(key);
    return (
      <tr>
        <th scope="row">{label}</th>
        <td>{desired}</td>
        <td>{reportedValue}</td>
        <td>
          {refused ? (
            <span class="field-error">Refused by the device: {refused}</span>
          ) : pending(key) ? (
            <span class="badge pending">Waiting for the device</span>
          ) : desired === "—" ? (
            <span class="muted">the device's own</span>
          ) : (
            <span class="badge free">Taken</span>
          )}
        </td>
      </tr>
    );
  };

  return (
    <section aria-labelledby={id("title")} class="configuration" data-testid="configuration">
      <h2 id={id("title")}>Configuration</h2>
      {/* A live region without the status role: the device page's own status stays the one. */}
      <p class="live" aria-live="polite" data-testid="configuration-announce">
        {announce}
      </p>
      {polled.error && (
        <p role="alert" class="field-error">
          The configuration could not be read: {polled.error}.
        </p>
      )}
      {r === undefined ? (
        <p>…</p>
      ) : r.state === "unavailable" ? (
        <p>The device settings service is unavailable: {r.why}.</p>
      ) : r.state === "no-shadow" ? (
        <p data-testid="no-shadow">
          This device has not reported its settings yet, and none were set for it.
        </p>
      ) : (
        config && (
          <>
            <div class="table-wrap">
              <table aria-labelledby={id("title")} data-testid="configuration-table">
                <thead>
                  <tr>
                    <th scope="col">Setting</th>
                    <th scope="col">Asked for</th>
                    <th scope="col">Device runs with</th>
                    <th scope="col">State</th>
                  </tr>
                </thead>
                <tbody>
                  {row(
                    "Sample rate",
                    "sensor.sample_rate_hz",
                    config.desired.sensor?.sample_rate_hz !== undefined
                      ? `${config.desired.sensor.sample_rate_hz} Hz`
                      : "—",
                    reported ? `${reported.sensor.sample_rate_hz} Hz` : "not reported",
                  )}
                  {row(
                    "Publish interval",
                    "publish.interval_ms",
                    config.desired.publish?.interval_ms !== undefined
                      ? seconds(config.desired.publish.interval_ms)
                      : "—",
                    reported ? seconds(reported.publish.interval_ms) : "not reported",
                  )}
                </tbody>
              </table>
            </div>
            <p data-testid="live-mode">
              {liveOn && liveUntil !== undefined ? (
                <>
                  <strong>Live mode</strong> until {formatTime(liveUntil, timeZone)}: a batch every{" "}
                  {seconds(config.desired.publish?.live_interval_ms ?? 1000)}
                  {reported
                    ? `; the device publishes every ${seconds(reported.publish.effective_interval_ms)} now`
                    : ""}
                  .
                </>
              ) : (
                <>
                  Live mode is off
                  {reported
                    ? `; the device publishes every ${seconds(reported.publish.effective_interval_ms)}`
                    : ""}
                  .
                </>
              )}
            </p>
            {reported && (
              <>
                <h3>Last report</h3>
                <dl class="figures" data-testid="device-figures">
                  <dt>Reported</dt>
                  <dd>
                    {formatTime(reported.timestamp, timeZone)}{" "}
                    <span class="muted">({ago(reported.timestamp, now)})</span>
                  </dd>
                  <dt>Sensor</dt>
                  <dd>
                    {reported.sensor.model},{" "}
                    {reported.sensor.healthy ? (
                      <span class="badge free">healthy</span>
                    ) : (
                      <span class="badge offline">
                        not healthy{reported.sensor.error ? `: ${reported.sensor.error}` : ""}
                      </span>
                    )}
                  </dd>
                  <dt>Outbox</dt>
                  <dd>
                    {reported.outbox.depth} batches waiting ({kb(reported.outbox.bytes)}),{" "}
                    {reported.outbox.drops} dropped
                  </dd>
                  <dt>Last publish</dt>
                  <dd>
                    {reported.publish.last_publish_at
                      ? formatTime(reported.publish.last_publish_at, timeZone)
                      : "none yet"}
                  </dd>
                  <dt>Connection</dt>
                  <dd>
                    {reported.reconnects} reconnects, up {Math.floor(reported.uptime_s / 60)} min
                    {reported.wifi
                      ? `, Wi-Fi ${reported.wifi.connected ? `on${reported.wifi.ssid ? ` (${reported.wifi.ssid})` : ""}` : "off"}`
                      : ""}
                  </dd>
                  {reported.cpu_temperature_c != null && (
                    <>
                      <dt>CPU temperature</dt>
                      <dd>{reported.cpu_temperature_c.toFixed(1)} °C</dd>
                    </>
                  )}
                  <dt>Agent</dt>
                  <dd>version {reported.agent.version}</dd>
                </dl>
                <p class="hint">The devices report no battery level.</p>
              </>
            )}
          </>
        )
      )}

      {clinician && r !== undefined && r.state !== "unavailable" && (
        <div class="config-forms">
          <form
            class="command"
            id={id("settings")}
            aria-labelledby={id("settings-title")}
            noValidate
            onSubmit={(e) => void submit(e)}
          >
            <h3 id={id("settings-title")}>Change settings</h3>
            <SettingsFields
              id={id}
              rate={rate}
              onRate={setRate}
              interval={interval}
              onInterval={setPublishInterval}
              messages={messages}
            />
            <FieldError id={id("settings-error")} text={messages.form} />
            <button type="submit" disabled={busy}>
              Save settings
            </button>
          </form>

          <form
            class="command"
            id={id("live")}
            aria-labelledby={id("live-title")}
            noValidate
            onSubmit={(e) => void startLive(e)}
          >
            <h3 id={id("live-title")}>Live mode</h3>
            <p class="hint">
              Someone is watching: the device sends its samples more often until the time is up,
              then goes back to its own interval by itself.
            </p>
            <NumberField
              id={id("live_interval_ms")}
              label="Interval while live (ms)"
              value={liveInterval}
              onValue={setLiveInterval}
              error={liveMessages.live_interval_ms}
            />
            <NumberField
              id={id("duration_min")}
              label="For how long (minutes)"
              value={liveMinutes}
              onValue={setLiveMinutes}
              hint="At most 60 minutes."
              error={liveMessages.duration_min}
            />
            <FieldError id={id("live-error")} text={liveMessages.form} />
            <button type="submit" disabled={busy}>
              Start live mode
            </button>
            {liveOn && (
              <button
                type="button"
                class="secondary"
                disabled={busy}
                onClick={() => void endLive()}
              >
                End live mode now
              </button>
            )}
          </form>
        </div>
      )}
    </section>
  );
};
