/**
 * Patients the console knows of. The API has no patient directory (patients
 * live in the clinic's own records; the API knows a patient only by the
 * assignments that name them), so the patient picker offers:
 * - the patients wearing a device now, from the fleet (`GET /api/devices`,
 *   up to FLEET_PAGES pages of 500),
 * - the patients of the device's own assignment history,
 * - the patients opened in this browser,
 * and any other ID typed in, checked by the API's PatientId rules before it
 * is sent.
 */
import type { Api, Assignment } from "./api.js";

export interface KnownPatient {
  readonly patient_id: string;
  readonly patient_name: string | null;
  /** Where the console saw them: "wears device-x now", "in this device's history", "opened here". */
  readonly seen: string;
}

/** What the API's PatientId accepts (`@medusa/domain` ids.ts), said as the form says it; undefined: fine. */
export const patientIdProblem = (value: string): string | undefined => {
  if (value.length === 0 || value.trim().length === 0) return "Patient ID is required.";
  if (value.trim() !== value) return "A patient ID has no spaces at its start or end.";
  if (value.length > 256) return "A patient ID is at most 256 characters.";
  if (value === "UNASSIGNED")
    return "UNASSIGNED is reserved for samples that belong to no patient.";
  return undefined;
};

const RECENT = "medusa.recent-patients";
export const recentPatients = (): ReadonlyArray<{ id: string; name: string | null }> => {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT) ?? "[]");
    return Array.isArray(list)
      ? list.filter(
          (x): x is { id: string; name: string | null } =>
            typeof x === "object" && x !== null && typeof x.id === "string",
        )
      : [];
  } catch {
    return [];
  }
};
export const rememberPatient = (id: string, name: string | null) => {
  const list = [{ id, name }, ...recentPatients().filter((p) => p.id !== id)].slice(0, 50);
  localStorage.setItem(RECENT, JSON.stringify(list));
};

const FLEET_PAGES = 4;

type FleetPage = {
  devices: ReadonlyArray<{
    device_id: string;
    assignment: { patient_id: string; patient_name: string | null } | null;
  }>;
  next_cursor: string | null;
};

/** Every patient the console can name, first seen first: the fleet's wearers, the history, this browser's. */
export const knownPatients = async (
  api: Api,
  history: ReadonlyArray<Assignment>,
): Promise<ReadonlyArray<KnownPatient>> => {
  const out = new Map<string, KnownPatient>();
  const add = (p: KnownPatient) => {
    const had = out.get(p.patient_id);
    if (!had) out.set(p.patient_id, p);
    else if (!had.patient_name && p.patient_name)
      out.set(p.patient_id, { ...had, patient_name: p.patient_name });
  };
  let cursor: string | null = null;
  let pages = 0;
  try {
    do {
      const page: FleetPage = await api.get<FleetPage>(
        `/api/devices?limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
      );
      for (const d of page.devices)
        if (d.assignment)
          add({
            patient_id: d.assignment.patient_id,
            patient_name: d.assignment.patient_name,
            seen: `wears ${d.device_id} now`,
          });
      cursor = page.next_cursor;
    } while (cursor !== null && ++pages < FLEET_PAGES);
  } catch {
    // Without the fleet, the other sources still help.
  }
  for (const a of history)
    if (a.status !== "entered_in_error")
      add({
        patient_id: a.patient_id,
        patient_name: a.patient_name,
        seen: "in this device's history",
      });
  for (const p of recentPatients())
    add({ patient_id: p.id, patient_name: p.name, seen: "opened here" });
  return [...out.values()];
};
