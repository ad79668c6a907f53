import { useEffect, useRef, useState } from "preact/hooks";
import { type Api, ApiRefusal, type Assignment, enc, NO_ANSWER, type Problem } from "./api.js";
import { patientIdProblem } from "./patients.js";
import { explainRefusal } from "./refusals.js";
import { formatTime, fromLocalInput, toLocalInput, zoneLabel } from "./time.js";

/**
 * Corrections of a device's record (`POST /api/devices/{id}/assignments/{since}/…`):
 * retract an assignment entered in error, correct whose it was, amend its
 * times. Each says why (a reason code and a note, both required), is
 * confirmed before it is sent, and carries an Idempotency-Key (the same
 * values sent again: the same key). A refusal is said next to the field it
 * concerns.
 */
type Kind = "retract" | "correct-patient" | "amend";
type Field =
  | "assignment"
  | "patient_id"
  | "patient_name"
  | "start"
  | "end"
  | "reason"
  | "note"
  | "form";
type Messages = Partial<Record<Field, string>>;

const REASONS = [
  ["wrong_patient", "Wrong patient recorded"],
  ["wrong_device", "Wrong device recorded"],
  ["wrong_time", "Start or end at the wrong time"],
  ["not_worn", "The device was never worn"],
  ["duplicate", "Recorded twice"],
  ["other", "Other (say in the note)"],
] as const;
const DEFAULT_REASON: Record<Kind, string> = {
  retract: "not_worn",
  "correct-patient": "wrong_patient",
  amend: "wrong_time",
};
const KINDS: ReadonlyArray<readonly [Kind, string, string]> = [
  [
    "retract",
    "Retract it",
    "it was entered in error: it leaves the record, marked in the audit trail",
  ],
  ["correct-patient", "Correct the patient", "another patient wore the device in that period"],
  ["amend", "Amend its times", "it started or ended at another time"],
];

const newKey = () =>
  typeof crypto.randomUUID === "function"
    ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
        b.toString(16).padStart(2, "0"),
      ).join("");

const label = (a: Assignment, timeZone: string) =>
  `${a.patient_id}${a.patient_name ? ` (${a.patient_name})` : ""}, ${formatTime(a.assignment_timestamp, timeZone)} – ${a.assignment_end === null ? "now" : formatTime(a.assignment_end, timeZone)}`;

/** A refusal of a correction, in plain words, next to its field. */
export const explainCorrectionRefusal = (
  problem: Problem,
  kind: Kind,
  timeZone: string,
  sent: { start?: number; end?: number },
): Messages => {
  const slug = problem.type.split("/").pop() ?? "";
  const when = (ms: unknown) => (typeof ms === "number" ? formatTime(ms, timeZone) : "—");
  const timeField: Field = sent.start === undefined && sent.end !== undefined ? "end" : "start";
  switch (slug) {
    case "assignment-not-found":
      return {
        assignment:
          "This assignment is no longer in the record as shown (it may just have been corrected). Reload the page.",
      };
    case "assignment-retracted":
      return {
        assignment: `This assignment was already retracted (${when(problem.retracted_at)}).`,
      };
    case "assignments-would-overlap": {
      const c = (problem.conflicting ?? {}) as Record<string, unknown>;
      const other = `${String(c.patient_id ?? "?")}'s assignment (${when(c.assignment_timestamp)} – ${c.assignment_end === null ? "now" : when(c.assignment_end)})`;
      return kind === "amend"
        ? {
            [timeField]: `These times would overlap ${other}. Choose times outside it, or, for a hand-over recorded at the wrong time, tick "Move the adjoining assignment too".`,
          }
        : { patient_id: `This would overlap ${other}.` };
    }
    case "correction-changes-nothing":
      return kind === "correct-patient"
        ? { patient_id: "The record already names this patient for that period." }
        : kind === "amend"
          ? { [timeField]: "The record already has these times. Change a time, or cancel." }
          : { form: "The record already says that." };
    case "assignment-not-ended":
      return {
        end: "This assignment has not ended, so it has no end to amend. End it with the commands, or leave the end empty.",
      };
    case "time-in-future":
      return { [timeField]: "This time is in the future. Choose a past time." };
    case "empty-assignment":
      return {
        [timeField]: "The assignment would end at the moment it started. Choose a later end.",
      };
    case "validation-error": {
      const out: Messages = {};
      const field: Record<string, Field> = {
        patient_id: "patient_id",
        patient_name: "patient_name",
        reason: "reason",
        note: "note",
        assignment_timestamp: "start",
        assignment_end: "end",
        since: "assignment",
      };
      for (const issue of problem.errors ?? []) {
        const f = field[issue.path.split(".")[0] ?? ""] ?? "form";
        out[f] =
          `${out[f] ? `${out[f]} ` : ""}${issue.message[0]?.toUpperCase() ?? ""}${issue.message.slice(1)}.`;
      }
      if (Object.keys(out).length === 0)
        out.form = `The server refused the correction: ${problem.detail ?? problem.title}.`;
      return out;
    }
    default: {
      // The same words as the assignment commands for what they share.
      const general = explainRefusal(problem, timeZone);
      return { form: Object.values(general).join(" ") };
    }
  }
};

export const Corrections = ({
  api,
  timeZone,
  deviceId,
  trail,
  onDone,
}: {
  readonly api: Api;
  readonly timeZone: string;
  readonly deviceId: string;
  readonly trail: ReadonlyArray<Assignment>;
  readonly onDone: (what: string) => void;
}) => {
  const correctable = trail.filter((a) => a.status !== "entered_in_error");
  const id = `correct-${deviceId}`;
  const [since, setSince] = useState<string>("");
  const [kind, setKind] = useState<Kind>("retract");
  const [values, setValues] = useState<Record<string, string>>({});
  const [moveAdjoining, setMoveAdjoining] = useState(false);
  const [messages, setMessages] = useState<Messages>({});
  const [confirming, setConfirming] = useState<
    { path: string; body: Record<string, unknown>; text: string } | undefined
  >();
  const [busy, setBusy] = useState(false);
  const lastSent = useRef<{ text: string; key: string } | undefined>(undefined);
  const confirmButton = useRef<HTMLButtonElement>(null);

  const chosen =
    correctable.find((a) => String(a.assignment_timestamp) === since) ?? correctable[0];
  useEffect(() => {
    if (confirming) confirmButton.current?.focus();
  }, [confirming]);
  if (!chosen) return null;

  const set = (name: string, value: string) => {
    setValues({ ...values, [name]: value });
    setConfirming(undefined);
    if (Object.keys(messages).length > 0) setMessages({});
  };
  const reason = values.reason ?? DEFAULT_REASON[kind];

  const review = (e: Event) => {
    e.preventDefault();
    const local: Messages = {};
    const note = (values.note ?? "").trim();
    if (!note) local.note = "Say why, in words: the note is required.";
    const body: Record<string, unknown> = { reason, note };
    let what = "";
    let start: number | undefined;
    let end: number | undefined;
    if (kind === "correct-patient") {
      const p = (values.patient_id ?? "").trim();
      const problem = patientIdProblem(p);
      if (problem) local.patient_id = problem;
      body.patient_id = p;
      if ((values.patient_name ?? "").trim())
        body.patient_name = (values.patient_name ?? "").trim();
      what = `Record that patient ${p} — not ${chosen.patient_id} — wore ${deviceId} from ${formatTime(chosen.assignment_timestamp, timeZone)} to ${chosen.assignment_end === null ? "now" : formatTime(chosen.assignment_end, timeZone)}.`;
    } else if (kind === "amend") {
      const s = values.start ?? "";
      const en = values.end ?? "";
      start = s === "" ? undefined : fromLocalInput(s, timeZone);
      end = en === "" ? undefined : fromLocalInput(en, timeZone);
      if (s !== "" && start === undefined) local.start = "Enter a date and time.";
      if (en !== "" && end === undefined) local.end = "Enter a date and time.";
      if (s === "" && en === "") local.start = "Give the true start, the true end, or both.";
      if (start !== undefined) body.assignment_timestamp = start;
      if (end !== undefined) body.assignment_end = end;
      if (moveAdjoining) body.move_adjoining = true;
      what = `Record ${chosen.patient_id}'s assignment of ${deviceId} as ${formatTime(start ?? chosen.assignment_timestamp, timeZone)} – ${end !== undefined ? formatTime(end, timeZone) : chosen.assignment_end === null ? "now" : formatTime(chosen.assignment_end, timeZone)}${moveAdjoining ? ", moving the adjoining assignment with it" : ""}.`;
    } else {
      what = `Retract ${label(chosen, timeZone)}: it leaves the record (the audit trail keeps it, marked as entered in error), and its samples belong to nobody.`;
    }
    if (Object.keys(local).length > 0) {
      setMessages(local);
      focusFirst(id, local);
      return;
    }
    setMessages({});
    setConfirming({
      path: `/api/devices/${enc(deviceId)}/assignments/${chosen.assignment_timestamp}/${kind}`,
      body,
      text: `${what} Reason: ${REASONS.find(([r]) => r === reason)?.[1] ?? reason}. Note: "${String(body.note)}".`,
    });
    void start;
    void end;
  };

  const send = async () => {
    if (!confirming || busy) return;
    const text = JSON.stringify([confirming.path, confirming.body]);
    const key = lastSent.current?.text === text ? lastSent.current.key : newKey();
    lastSent.current = { text, key };
    setBusy(true);
    try {
      await api.post(confirming.path, confirming.body, key);
      lastSent.current = undefined;
      setConfirming(undefined);
      setValues({});
      setMoveAdjoining(false);
      onDone(
        kind === "retract"
          ? `Assignment of ${chosen.patient_id} retracted.`
          : kind === "correct-patient"
            ? `Assignment corrected: patient ${String(confirming.body.patient_id)}.`
            : `Times of ${chosen.patient_id}'s assignment amended.`,
      );
    } catch (error) {
      const problem = error instanceof ApiRefusal ? error.problem : NO_ANSWER;
      const b = confirming.body;
      const explained = explainCorrectionRefusal(problem, kind, timeZone, {
        ...(typeof b.assignment_timestamp === "number" ? { start: b.assignment_timestamp } : {}),
        ...(typeof b.assignment_end === "number" ? { end: b.assignment_end } : {}),
      });
      setConfirming(undefined);
      setMessages(explained);
      focusFirst(id, explained);
    } finally {
      setBusy(false);
    }
  };

  const zone = zoneLabel(timeZone);
  const field = (
    name: Field,
    labelText: string,
    control: (common: Record<string, unknown>) => preact.JSX.Element,
    hint?: string,
  ) => {
    const fid = `${id}-${name}`;
    const error = messages[name];
    const describedBy = [error ? `${fid}-error` : "", hint ? `${fid}-hint` : ""]
      .filter(Boolean)
      .join(" ");
    return (
      <div class="field">
        <label for={fid}>{labelText}</label>
        {control({
          id: fid,
          name,
          "aria-invalid": error ? true : undefined,
          "aria-describedby": describedBy || undefined,
        })}
        {hint && (
          <p id={`${fid}-hint`} class="hint">
            {hint}
          </p>
        )}
        {error && (
          <p id={`${fid}-error`} class="field-error" data-field={name}>
            {error}
          </p>
        )}
      </div>
    );
  };

  return (
    <form class="command" id={id} aria-labelledby={`${id}-title`} onSubmit={review} noValidate>
      <h3 id={`${id}-title`}>Correct the record</h3>
      <p class="hint">
        For a mistake in an assignment already made. Every correction is kept in the audit trail
        with who made it and why.
      </p>
      {field("assignment", "Assignment", (common) => (
        <select
          {...common}
          value={String(chosen.assignment_timestamp)}
          onChange={(e) => {
            setSince((e.target as HTMLSelectElement).value);
            setConfirming(undefined);
            setMessages({});
          }}
        >
          {correctable.map((a) => (
            <option key={a.assignment_timestamp} value={String(a.assignment_timestamp)}>
              {label(a, timeZone)}
            </option>
          ))}
        </select>
      ))}
      <fieldset>
        <legend>What is wrong</legend>
        {KINDS.map(([k, text, hint]) => (
          <label class="choice" key={k}>
            <input
              type="radio"
              name={`${id}-kind`}
              value={k}
              checked={kind === k}
              onChange={() => {
                setKind(k);
                setConfirming(undefined);
                setMessages({});
                const { reason: _r, ...rest } = values;
                setValues(rest);
              }}
            />
            <span>
              {text} <span class="muted">— {hint}</span>
            </span>
          </label>
        ))}
      </fieldset>
      {kind === "correct-patient" && (
        <>
          {field("patient_id", "The patient who wore it *", (common) => (
            <input
              {...common}
              type="text"
              autocomplete="off"
              aria-required="true"
              value={values.patient_id ?? ""}
              onInput={(e) => set("patient_id", (e.target as HTMLInputElement).value)}
            />
          ))}
          {field("patient_name", "Their name (optional)", (common) => (
            <input
              {...common}
              type="text"
              autocomplete="off"
              value={values.patient_name ?? ""}
              onInput={(e) => set("patient_name", (e.target as HTMLInputElement).value)}
            />
          ))}
        </>
      )}
      {kind === "amend" && (
        <>
          {field(
            "start",
            "True start (optional)",
            (common) => (
              <input
                {...common}
                type="datetime-local"
                value={values.start ?? ""}
                onInput={(e) => set("start", (e.target as HTMLInputElement).value)}
              />
            ),
            `Now recorded: ${toLocalInput(chosen.assignment_timestamp, timeZone).replace("T", " ")}. Clinic time: ${zone}.`,
          )}
          {field(
            "end",
            "True end (optional)",
            (common) => (
              <input
                {...common}
                type="datetime-local"
                value={values.end ?? ""}
                onInput={(e) => set("end", (e.target as HTMLInputElement).value)}
              />
            ),
            chosen.assignment_end === null
              ? "It has not ended: leave this empty."
              : `Now recorded: ${toLocalInput(chosen.assignment_end, timeZone).replace("T", " ")}. Clinic time: ${zone}.`,
          )}
          <label class="choice">
            <input
              type="checkbox"
              checked={moveAdjoining}
              onChange={(e) => {
                setMoveAdjoining((e.target as HTMLInputElement).checked);
                setConfirming(undefined);
              }}
            />
            <span>Move the adjoining assignment too (a hand-over recorded at the wrong time)</span>
          </label>
        </>
      )}
      {field("reason", "Reason *", (common) => (
        <select
          {...common}
          value={reason}
          onChange={(e) => set("reason", (e.target as HTMLSelectElement).value)}
        >
          {REASONS.map(([r, text]) => (
            <option key={r} value={r}>
              {text}
            </option>
          ))}
        </select>
      ))}
      {field("note", "Note: why, in words *", (common) => (
        <textarea
          {...common}
          rows={2}
          aria-required="true"
          value={values.note ?? ""}
          onInput={(e) => set("note", (e.target as HTMLTextAreaElement).value)}
        />
      ))}
      {messages.form && (
        <p id={`${id}-form-error`} class="field-error" role="alert" data-field="form">
          {messages.form}
        </p>
      )}
      {confirming ? (
        <div class="confirm">
          <p id={`${id}-confirm-text`} data-testid="correction-confirm">
            {confirming.text}
          </p>
          <button
            type="button"
            ref={confirmButton}
            aria-describedby={`${id}-confirm-text`}
            class={kind === "retract" ? "danger" : undefined}
            disabled={busy}
            aria-busy={busy}
            onClick={() => void send()}
          >
            {busy ? "Sending…" : "Confirm the correction"}
          </button>{" "}
          <button
            type="button"
            class="secondary"
            disabled={busy}
            onClick={() => setConfirming(undefined)}
          >
            Cancel
          </button>
        </div>
      ) : (
        <button type="submit">Review the correction</button>
      )}
    </form>
  );
};

const focusFirst = (formId: string, messages: Messages) => {
  requestAnimationFrame(() => {
    const first = Object.keys(messages).find((k) => k !== "form");
    const el = first ? document.getElementById(`${formId}-${first}`) : undefined;
    el?.focus();
  });
};
