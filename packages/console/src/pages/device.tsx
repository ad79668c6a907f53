import { useEffect, useState } from "preact/hooks";
import { ApiRefusal, type Assignment, type CurrentPatient, enc } from "../api.js";
import { CommandForm, type FieldSpec } from "../command-form.js";
import { Corrections } from "../corrections.js";
import type { PageProps } from "../main.js";
import { type KnownPatient, knownPatients, patientIdProblem } from "../patients.js";
import { rememberDevice } from "../session.js";
import { formatTime, zoneLabel } from "../time.js";
import { DeviceConfiguration } from "./device-configuration.js";
import { DeviceJobsPanel } from "./device-jobs.js";

const OUTCOME: Record<Assignment["status"], string> = {
  active: "Active",
  completed: "Completed",
  device_returned: "Device returned",
  entered_in_error: "Retracted (entered in error)",
};

const optional = (v: string | undefined) => (v && v.trim() !== "" ? v.trim() : undefined);
const defined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** A device: who wears it, the commands (clinicians only) and its audit trail. */
export const DevicePage = ({
  api,
  session,
  timeZone,
  deviceId,
}: PageProps & { deviceId: string }) => {
  const [current, setCurrent] = useState<CurrentPatient["patient"] | undefined>();
  const [trail, setTrail] = useState<ReadonlyArray<Assignment> | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [announce, setAnnounce] = useState("");
  const [version, setVersion] = useState(0);
  const [patients, setPatients] = useState<ReadonlyArray<KnownPatient>>([]);
  useEffect(() => {
    let live = true;
    if (session.role === "clinician" && trail)
      void knownPatients(api, trail).then((p) => live && setPatients(p));
    return () => {
      live = false;
    };
  }, [trail]);

  useEffect(() => {
    let live = true;
    rememberDevice(deviceId);
    Promise.all([
      api.get<CurrentPatient>(`/api/devices/${enc(deviceId)}/patient`),
      api.get<{ assignments: ReadonlyArray<Assignment> }>(
        `/api/devices/${enc(deviceId)}/assignments`,
      ),
    ])
      .then(([c, t]) => {
        if (!live) return;
        setCurrent(c.patient);
        setTrail(t.assignments);
        setError(undefined);
      })
      .catch((e) => live && setError(e instanceof ApiRefusal ? e.message : "could not be read"));
    return () => {
      live = false;
    };
  }, [deviceId, version]);

  const done = (what: string) => () => {
    setAnnounce(what);
    setVersion((v) => v + 1);
  };
  const clinician = session.role === "clinician";
  const zone = zoneLabel(timeZone);
  const timeField = (label: string): FieldSpec => ({
    name: "at",
    label,
    kind: "datetime",
    hint: `Leave empty for now. A past time is allowed, not before the device's last change. Clinic time: ${zone}.`,
  });
  const patientFields: ReadonlyArray<FieldSpec> = [
    {
      name: "patient_id",
      label: "Patient ID",
      kind: "text",
      required: true,
      hint: "Type to search the patients wearing a device now, this device's and this browser's; or enter another ID.",
      suggestions: patients.map((p) => ({
        value: p.patient_id,
        label: `${p.patient_name ? `${p.patient_name} — ` : ""}${p.seen}`,
      })),
      validate: (v) => patientIdProblem(v.trim()),
    },
    { name: "patient_name", label: "Patient name", kind: "text" },
    { name: "notes", label: "Notes", kind: "textarea" },
  ];
  const common = { api, timeZone };

  return (
    <section aria-labelledby="device-title">
      <h1 id="device-title">Device {deviceId}</h1>
      <p class="live" role="status" aria-live="polite">
        {announce}
      </p>
      {error && (
        <p role="alert" class="field-error">
          The device could not be read: {error}
        </p>
      )}
      <div class="device-layout">
        <div>
          <h2>Now</h2>
          <p data-testid="current-patient">
            {current === undefined ? (
              "…"
            ) : current === null ? (
              <span class="badge free">Available</span>
            ) : (
              <>
                Worn by{" "}
                <a href={`/patients/${enc(current.patient_id)}`}>
                  {current.patient_id}
                  {current.patient_name ? ` (${current.patient_name})` : ""}
                </a>{" "}
                since {formatTime(current.assignment_timestamp, timeZone)}, assigned by{" "}
                {current.assigned_by}
              </>
            )}
          </p>

          <h2 id="history-title">Assignment history</h2>
          <p class="hint">Newest first: who assigned and ended each assignment, when and why.</p>
          {trail === undefined ? (
            <p>…</p>
          ) : trail.length === 0 ? (
            <p>This device has never been assigned.</p>
          ) : (
            <div class="table-wrap">
              <table aria-labelledby="history-title" data-testid="audit-trail">
                <thead>
                  <tr>
                    <th scope="col">Patient</th>
                    <th scope="col">From</th>
                    <th scope="col">Until</th>
                    <th scope="col">Assigned by</th>
                    <th scope="col">Ended by</th>
                    <th scope="col">Outcome</th>
                    <th scope="col">Notes</th>
                  </tr>
                </thead>
                <tbody>
                  {trail.map((a) => (
                    <tr
                      key={`${a.assignment_timestamp}-${a.patient_id}`}
                      class={a.status === "entered_in_error" ? "retracted" : undefined}
                    >
                      <th scope="row">
                        <a href={`/patients/${enc(a.patient_id)}`}>{a.patient_id}</a>
                        {a.patient_name ? <span class="muted"> {a.patient_name}</span> : null}
                      </th>
                      <td>{formatTime(a.assignment_timestamp, timeZone)}</td>
                      <td>
                        {a.assignment_end === null ? "—" : formatTime(a.assignment_end, timeZone)}
                      </td>
                      <td>{a.assigned_by}</td>
                      <td>{a.ended_by ?? "—"}</td>
                      <td>
                        <span class={`badge ${a.status}`}>{OUTCOME[a.status]}</span>
                        {a.correction && (
                          <span class="muted correction">
                            {" "}
                            Corrected by {a.correction.corrected_by},{" "}
                            {formatTime(a.correction.corrected_at, timeZone)}: {a.correction.note}
                          </span>
                        )}
                      </td>
                      <td>{a.notes ?? ""}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          <DeviceConfiguration
            api={api}
            session={session}
            timeZone={timeZone}
            deviceId={deviceId}
          />
          <DeviceJobsPanel api={api} session={session} timeZone={timeZone} deviceId={deviceId} />
        </div>

        <aside aria-labelledby="commands-title" class="commands">
          <h2 id="commands-title">Commands</h2>
          {!clinician ? (
            <p data-testid="read-only">
              You are signed in as a viewer: you may read, not change, assignments.
            </p>
          ) : current === undefined ? (
            <p>…</p>
          ) : current === null ? (
            <CommandForm
              {...common}
              id={`assign-${deviceId}`}
              title="Assign to a patient"
              submitLabel="Assign device"
              route="/api/devices/assign"
              fields={[...patientFields, timeField("When it was put on")]}
              body={(v, at) =>
                defined({
                  device_id: deviceId,
                  patient_id: v.patient_id?.trim(),
                  patient_name: optional(v.patient_name),
                  notes: optional(v.notes),
                  assignment_timestamp: at,
                })
              }
              onDone={(a) =>
                done(
                  `Assigned to patient ${(a as { assignment: Assignment }).assignment.patient_id}.`,
                )()
              }
            />
          ) : (
            <>
              <CommandForm
                {...common}
                id={`handover-${deviceId}`}
                title="Hand over to the next patient"
                intro={
                  <p class="hint">
                    Ends {current.patient_id}'s assignment and starts the next one, in one step.
                  </p>
                }
                submitLabel="Hand over"
                route="/api/devices/reassign"
                fields={[
                  ...patientFields,
                  {
                    name: "reason",
                    label: `Why ${current.patient_id}'s assignment ends`,
                    kind: "reason",
                  },
                  timeField("When it changed hands"),
                ]}
                body={(v, at) =>
                  defined({
                    device_id: deviceId,
                    patient_id: v.patient_id?.trim(),
                    patient_name: optional(v.patient_name),
                    notes: optional(v.notes),
                    reason: v.reason ?? "completed",
                    assignment_timestamp: at,
                  })
                }
                onDone={(a) =>
                  done(
                    `Handed over to patient ${(a as { assignment: Assignment }).assignment.patient_id}.`,
                  )()
                }
              />
              <CommandForm
                {...common}
                id={`end-${deviceId}`}
                title="End the assignment"
                intro={<p class="hint">The wear period of {current.patient_id} is over.</p>}
                submitLabel="End assignment"
                route="/api/devices/unassign"
                fields={[timeField("When it ended")]}
                body={(_v, at) =>
                  defined({
                    device_id: deviceId,
                    patient_id: current.patient_id,
                    reason: "completed",
                    assignment_end: at,
                  })
                }
                onDone={done(`Assignment of ${current.patient_id} ended.`)}
              />
              <CommandForm
                {...common}
                id={`return-${deviceId}`}
                title="Device returned"
                intro={<p class="hint">The device came back from {current.patient_id}.</p>}
                submitLabel="Return device"
                danger
                route="/api/devices/unassign"
                fields={[timeField("When it came back")]}
                body={(_v, at) =>
                  defined({
                    device_id: deviceId,
                    patient_id: current.patient_id,
                    reason: "device_returned",
                    assignment_end: at,
                  })
                }
                onDone={done(`Device returned by ${current.patient_id}.`)}
              />
            </>
          )}
          {clinician && trail && trail.length > 0 && (
            <Corrections
              api={api}
              timeZone={timeZone}
              deviceId={deviceId}
              trail={trail}
              onDone={(what) => done(what)()}
            />
          )}
        </aside>
      </div>
    </section>
  );
};
