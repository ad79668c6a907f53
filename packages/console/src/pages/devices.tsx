import { useMemo, useState } from "preact/hooks";
import { enc } from "../api.js";
import { type FleetDevice, type FleetFilter, pagedReader } from "../fleet.js";
import type { PageProps } from "../main.js";
import { ago, formatTime } from "../time.js";
import { usePolled } from "../use-polled.js";

// An AWS IoT thing name, as the API checks it.
const DEVICE_ID = /^[a-zA-Z0-9:_-]{1,128}$/;

const FILTERS: ReadonlyArray<{ value: FleetFilter | "all"; label: string }> = [
  { value: "all", label: "All" },
  { value: "available", label: "Available" },
  { value: "assigned", label: "Assigned" },
  { value: "offline", label: "Offline" },
  { value: "alert", label: "With an open alert" },
];

const isFilter = (v: string | null): v is FleetFilter =>
  v === "available" || v === "assigned" || v === "offline" || v === "alert";

/** The filter and search as the address keeps them (`/?status=offline&q=P-1`): a link or a reload keeps them. */
const fromAddress = () => {
  const q = new URLSearchParams(location.search);
  const status = q.get("status");
  return { filter: isFilter(status) ? status : ("all" as const), search: q.get("q") ?? "" };
};
const toAddress = (filter: FleetFilter | "all", search: string) => {
  const q = new URLSearchParams();
  if (filter !== "all") q.set("status", filter);
  if (search.trim() !== "") q.set("q", search.trim());
  const s = q.toString();
  history.replaceState(null, "", s ? `/?${s}` : "/");
};

const matchesSearch = (d: FleetDevice, words: ReadonlyArray<string>) => {
  if (words.length === 0) return true;
  const text = [d.device_id, d.assignment?.patient_id, d.assignment?.patient_name]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
  return words.every((w) => text.includes(w));
};

/**
 * The fleet: every device with who wears it since when, online or offline,
 * its last sample and its open alerts; filtered by the API (`status=`),
 * searched here, kept live by polling.
 */
export const DevicesPage = ({ api, timeZone, navigate }: PageProps) => {
  const initial = useMemo(fromAddress, []);
  const [filter, setFilter] = useState<FleetFilter | "all">(initial.filter);
  const [search, setSearch] = useState(initial.search);
  const [device, setDevice] = useState("");
  const [deviceError, setDeviceError] = useState<string | undefined>();
  const [patient, setPatient] = useState("");
  const [patientError, setPatientError] = useState<string | undefined>();

  const read = useMemo(
    () =>
      pagedReader<FleetDevice>(
        api,
        filter === "all" ? "/api/devices" : `/api/devices?status=${filter}`,
        (body) => {
          const page = body as { devices: ReadonlyArray<FleetDevice>; next_cursor: string | null };
          return { items: page.devices, next: page.next_cursor };
        },
      ),
    [api, filter],
  );
  const fleet = usePolled(read, [read]);

  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  const sorted = useMemo(
    () => fleet.data && [...fleet.data].sort((x, y) => x.device_id.localeCompare(y.device_id)),
    [fleet.data],
  );
  const shown = sorted?.filter((d) => matchesSearch(d, words));
  const now = fleet.checkedAt ?? Date.now();
  const filterLabel = FILTERS.find((f) => f.value === filter)?.label ?? "All";

  return (
    <section aria-labelledby="devices-title">
      <h1 id="devices-title">Devices</h1>
      <div class="finders">
        <form
          aria-labelledby="open-device-title"
          onSubmit={(e) => {
            e.preventDefault();
            const id = device.trim();
            if (!DEVICE_ID.test(id)) {
              setDeviceError(
                "A device ID is 1–128 letters, digits, colons, hyphens or underscores.",
              );
              return;
            }
            navigate(`/devices/${enc(id)}`);
          }}
        >
          <h2 id="open-device-title">Open a device</h2>
          <label for="open-device">Device ID</label>
          <input
            id="open-device"
            value={device}
            placeholder="medusa-sim-01"
            autocomplete="off"
            aria-invalid={deviceError ? true : undefined}
            aria-describedby={deviceError ? "open-device-error" : undefined}
            onInput={(e) => {
              setDevice((e.target as HTMLInputElement).value);
              setDeviceError(undefined);
            }}
          />
          {deviceError && (
            <p id="open-device-error" class="field-error">
              {deviceError}
            </p>
          )}
          <button type="submit">Open device</button>
        </form>
        <form
          aria-labelledby="open-patient-title"
          onSubmit={(e) => {
            e.preventDefault();
            const id = patient.trim();
            if (id === "") {
              setPatientError("Enter the patient's ID.");
              return;
            }
            navigate(`/patients/${enc(id)}`);
          }}
        >
          <h2 id="open-patient-title">Open a patient</h2>
          <label for="open-patient">Patient ID</label>
          <input
            id="open-patient"
            value={patient}
            placeholder="P-001"
            autocomplete="off"
            aria-invalid={patientError ? true : undefined}
            aria-describedby={patientError ? "open-patient-error" : undefined}
            onInput={(e) => {
              setPatient((e.target as HTMLInputElement).value);
              setPatientError(undefined);
            }}
          />
          {patientError && (
            <p id="open-patient-error" class="field-error">
              {patientError}
            </p>
          )}
          <button type="submit">Open patient</button>
        </form>
      </div>

      <h2 id="fleet-title">The fleet</h2>
      <div class="fleet-controls">
        <fieldset class="filters">
          <legend>Show</legend>
          {FILTERS.map((f) => (
            <label class="choice" key={f.value}>
              <input
                type="radio"
                name="fleet-filter"
                value={f.value}
                checked={filter === f.value}
                onChange={() => {
                  setFilter(f.value);
                  toAddress(f.value, search);
                }}
              />
              {f.label}
            </label>
          ))}
        </fieldset>
        <div>
          <label for="fleet-search">Search devices and patients</label>
          <input
            id="fleet-search"
            type="search"
            value={search}
            autocomplete="off"
            placeholder="device ID, patient ID or name"
            aria-describedby="fleet-count"
            onInput={(e) => {
              const v = (e.target as HTMLInputElement).value;
              setSearch(v);
              toAddress(filter, v);
            }}
          />
        </div>
      </div>
      <p id="fleet-count" class="hint" role="status" aria-live="polite" data-testid="fleet-count">
        {shown === undefined
          ? "Reading the fleet…"
          : `${shown.length} of ${fleet.data?.length ?? 0} ${filter === "all" ? "devices" : `devices (${filterLabel.toLowerCase()})`} shown`}
      </p>
      <p class="hint" data-testid="fleet-updated">
        Live: checked every few seconds
        {fleet.checkedAt ? `, last at ${formatTime(fleet.checkedAt, timeZone)}` : ""}.
      </p>
      {fleet.error && (
        <p role="alert" class="field-error">
          The fleet could not be read: {fleet.error}. It is tried again in a few seconds.
        </p>
      )}
      {shown !== undefined &&
        (shown.length === 0 ? (
          <p>No device matches.</p>
        ) : (
          <div class="table-wrap">
            <table aria-labelledby="fleet-title" data-testid="devices-table">
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Worn by</th>
                  <th scope="col">Since</th>
                  <th scope="col">Connection</th>
                  <th scope="col">Last sample</th>
                  <th scope="col">Open alerts</th>
                </tr>
              </thead>
              <tbody>
                {shown.map((d) => (
                  <tr key={d.device_id} data-device={d.device_id}>
                    <th scope="row">
                      <a href={`/devices/${enc(d.device_id)}`}>{d.device_id}</a>
                    </th>
                    <td>
                      {d.assignment === null ? (
                        <span class="badge free">Available</span>
                      ) : (
                        <a href={`/patients/${enc(d.assignment.patient_id)}`}>
                          {d.assignment.patient_id}
                          {d.assignment.patient_name ? ` (${d.assignment.patient_name})` : ""}
                        </a>
                      )}
                    </td>
                    <td>
                      {d.assignment ? formatTime(d.assignment.assignment_timestamp, timeZone) : ""}
                    </td>
                    <td>
                      {d.connected ? (
                        <span class="badge online">Online</span>
                      ) : d.last_seen === null ? (
                        <span class="badge offline">Never seen</span>
                      ) : (
                        <>
                          <span class="badge offline">Offline</span>{" "}
                          <span class="muted">
                            since {formatTime(d.last_seen, timeZone)}
                            {d.disconnect_reason ? ` (${d.disconnect_reason})` : ""}
                          </span>
                        </>
                      )}
                    </td>
                    <td>
                      {d.last_sample === null ? (
                        <span class="muted">none</span>
                      ) : (
                        <>
                          {formatTime(d.last_sample, timeZone)}{" "}
                          <span class="muted">({ago(d.last_sample, now)})</span>
                        </>
                      )}
                    </td>
                    <td>
                      {d.open_alerts.length === 0 ? (
                        <span class="muted">none</span>
                      ) : (
                        <a href="/alerts" class="alert-link">
                          {d.open_alerts.length === 1
                            ? "1 open alert"
                            : `${d.open_alerts.length} open alerts`}
                          : no data since{" "}
                          {formatTime(Math.min(...d.open_alerts.map((a) => a.since)), timeZone)}
                        </a>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      <p class="hint">
        Sensor health, outbox and connection figures are on each device's page, from the device's
        last report.
      </p>
    </section>
  );
};
