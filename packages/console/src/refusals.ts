import type { Problem } from "./api.js";
import { formatTime } from "./time.js";

/** A form's fields, named as the API names them; `form` is the form as a whole. */
export type Field = "patient_id" | "patient_name" | "notes" | "at" | "reason" | "form";

/** What to say, and next to which field. */
export type FieldMessages = Partial<Record<Field, string>>;

const FIELD_OF: Record<string, Field> = {
  patient_id: "patient_id",
  patient_name: "patient_name",
  notes: "notes",
  reason: "reason",
  assignment_timestamp: "at",
  assignment_end: "at",
};

const LABEL: Record<Field, string> = {
  patient_id: "Patient ID",
  patient_name: "Patient name",
  notes: "Notes",
  at: "Time",
  reason: "Reason",
  form: "",
};

/**
 * Every refusal the assignment commands can meet, in plain words, next to the
 * field it concerns (`packages/api/README.md`, "Errors"). Anything else is
 * said about the form as a whole, with the API's own detail.
 */
export const explainRefusal = (problem: Problem, timeZone: string): FieldMessages => {
  const slug = problem.type.split("/").pop() ?? "";
  const when = (ms: unknown) => (typeof ms === "number" ? formatTime(ms, timeZone) : "—");
  switch (slug) {
    case "validation-error": {
      const out: FieldMessages = {};
      for (const issue of problem.errors ?? []) {
        const field = FIELD_OF[issue.path.split(".")[0] ?? ""] ?? "form";
        const text = `${LABEL[field] ? `${LABEL[field]} ` : ""}${issue.message}.`;
        out[field] = out[field] ? `${out[field]} ${text}` : text;
      }
      if (Object.keys(out).length === 0)
        out.form = `The server refused the request: ${problem.detail ?? problem.title}.`;
      return out;
    }
    case "device-already-assigned":
      return {
        patient_id: `This device is already assigned to patient ${String(problem.current_patient_id ?? "?")} (since ${when(problem.assigned_since)}). End that assignment or hand the device over instead.`,
      };
    case "assignment-belongs-to-another-patient":
      return {
        patient_id:
          "The device's current assignment is another patient's: reload the page to see who wears it now.",
      };
    case "no-active-assignment":
      return {
        form: "Nobody wears this device now (the assignment may have just been ended elsewhere). Reload the page.",
      };
    case "time-before-last-event":
      return {
        at: `This time is before the device's last recorded change (${when(problem.last_event_at)}). Choose that time or later.`,
      };
    case "time-in-future":
      return { at: "This time is in the future. Leave it empty for now, or choose a past time." };
    case "empty-assignment":
      return {
        at: "The assignment would end at the moment it started. Choose a later time.",
      };
    case "concurrent-change":
      return {
        form: "Someone changed this device at the same moment. Reload the page and try again.",
      };
    case "idempotency-key-reused":
      return {
        form: "This form was already sent with other values. Reload the page and try again.",
      };
    case "forbidden":
      return { form: "Your role may read but not change assignments." };
    case "unauthorized":
      return { form: "Your session has ended. Sign in again; what you typed is kept." };
    case "storage-unavailable":
      return { form: "The system could not store this just now. Try again in a moment." };
    case "network-error":
      return {
        form: "The server did not answer. Check the connection and send the form again (it will not be done twice).",
      };
    default:
      return { form: `The server refused the request: ${problem.detail ?? problem.title}.` };
  }
};
