import { useEffect, useState } from "preact/hooks";
import { ApiRefusal, type CurrentPatient, enc } from "../api.js";
import type { PageProps } from "../main.js";
import { recentDevices } from "../session.js";
import { formatTime } from "../time.js";

// An AWS IoT thing name, as the API checks it.
const DEVICE_ID = /^[a-zA-Z0-9:_-]{1,128}$/;

type Row = { id: string; current?: CurrentPatient["patient"]; error?: string };

/**
 * The devices opened in this browser, each with who wears it now. The whole
 * fleet (every device, online state, alerts) comes with the fleet route.
 */
export const DevicesPage = ({ api, timeZone, navigate }: PageProps) => {
  const [rows, setRows] = useState<ReadonlyArray<Row>>(() => recentDevices().map((id) => ({ id })));
  const [device, setDevice] = useState("");
  const [deviceError, setDeviceError] = useState<string | undefined>();
  const [patient, setPatient] = useState("");
  const [patientError, setPatientError] = useState<string | undefined>();

  useEffect(() => {
    let live = true;
    for (const { id } of rows)
      api
        .get<CurrentPatient>(`/api/devices/${enc(id)}/patient`)
        .then(
          (r) =>
            live &&
            setRows((all) => all.map((x) => (x.id === id ? { id, current: r.patient } : x))),
        )
        .catch(
          (e) =>
            live &&
            setRows((all) =>
              all.map((x) =>
                x.id === id ? { id, error: e instanceof ApiRefusal ? e.message : "unreadable" } : x,
              ),
            ),
        );
    return () => {
      live = false;
    };
  }, []);

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

      <h2 id="recent-title">Devices opened here</h2>
      {rows.length === 0 ? (
        <p>None yet: open a device by its ID above.</p>
      ) : (
        <div class="table-wrap">
          <table aria-labelledby="recent-title" data-testid="devices-table">
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">Worn by</th>
                <th scope="col">Since</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.id}>
                  <th scope="row">
                    <a href={`/devices/${enc(r.id)}`}>{r.id}</a>
                  </th>
                  <td>
                    {r.error ? (
                      <span class="muted">could not be read ({r.error})</span>
                    ) : r.current === undefined ? (
                      <span class="muted">…</span>
                    ) : r.current === null ? (
                      <span class="badge free">Available</span>
                    ) : (
                      <a href={`/patients/${enc(r.current.patient_id)}`}>
                        {r.current.patient_id}
                        {r.current.patient_name ? ` (${r.current.patient_name})` : ""}
                      </a>
                    )}
                  </td>
                  <td>{r.current ? formatTime(r.current.assignment_timestamp, timeZone) : ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
};
