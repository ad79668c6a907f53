import type { ComponentChildren } from "preact";
import { useRef, useState } from "preact/hooks";
import { type Api, ApiRefusal, NO_ANSWER } from "./api.js";
import { explainRefusal, type Field, type FieldMessages } from "./refusals.js";
import { loadDraft, saveDraft } from "./session.js";
import { fromLocalInput } from "./time.js";

export interface FieldSpec {
  readonly name: Exclude<Field, "form">;
  readonly label: string;
  readonly kind: "text" | "textarea" | "datetime" | "reason";
  readonly required?: boolean;
  readonly hint?: string;
  /** A text field's choices, offered as the user types (a datalist: type to search, or any other value). */
  readonly suggestions?: ReadonlyArray<{ readonly value: string; readonly label: string }>;
  /** Checked before sending: a message when the value will not do. */
  readonly validate?: (value: string) => string | undefined;
}

/** A fresh Idempotency-Key (a UUID; 127.0.0.1 and https are secure contexts). */
const newKey = () =>
  typeof crypto.randomUUID === "function"
    ? crypto.randomUUID()
    : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
        b.toString(16).padStart(2, "0"),
      ).join("");

/**
 * One assignment command as a form. Each submission carries an
 * Idempotency-Key; sending the same values again (a double click, a retry
 * after no answer) sends the same key, so the API does the command once and
 * answers the retry with the first result. A refusal is shown in plain words
 * next to the field it concerns. What is typed is kept as a draft until the
 * command is done, so an expired session loses nothing.
 */
export const CommandForm = (props: {
  readonly id: string;
  readonly title: string;
  readonly submitLabel: string;
  readonly fields: ReadonlyArray<FieldSpec>;
  readonly api: Api;
  readonly timeZone: string;
  readonly route: string;
  readonly body: (values: Record<string, string>, at: number | undefined) => unknown;
  readonly onDone: (answer: unknown) => void;
  readonly intro?: ComponentChildren;
  readonly danger?: boolean;
}) => {
  const [values, setValues] = useState<Record<string, string>>(() => loadDraft(props.id));
  const [messages, setMessages] = useState<FieldMessages>({});
  const [busy, setBusy] = useState(false);
  const inFlight = useRef(false);
  const lastSent = useRef<{ body: string; key: string } | undefined>(undefined);

  const set = (name: string, value: string) => {
    const next = { ...values, [name]: value };
    setValues(next);
    saveDraft(props.id, next);
    if (messages[name as Field] || messages.form) setMessages({});
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (inFlight.current) return;
    const local: FieldMessages = {};
    for (const f of props.fields) {
      if (f.required && !(values[f.name] ?? "").trim()) local[f.name] = `${f.label} is required.`;
      const problem = local[f.name] ? undefined : f.validate?.(values[f.name] ?? "");
      if (problem) local[f.name] = problem;
    }
    const atText = values.at ?? "";
    const at = atText === "" ? undefined : fromLocalInput(atText, props.timeZone);
    if (atText !== "" && at === undefined) local.at = "Enter a date and time.";
    if (Object.keys(local).length > 0) {
      setMessages(local);
      focusFirstError(props.id, local);
      return;
    }
    const body = props.body(values, at);
    const text = JSON.stringify(body);
    const key = lastSent.current?.body === text ? lastSent.current.key : newKey();
    lastSent.current = { body: text, key };
    inFlight.current = true;
    setBusy(true);
    setMessages({});
    try {
      const answer = await props.api.post(props.route, body, key);
      lastSent.current = undefined;
      saveDraft(props.id, undefined);
      setValues({});
      props.onDone(answer);
    } catch (error) {
      const problem = error instanceof ApiRefusal ? error.problem : NO_ANSWER;
      const explained = onFields(explainRefusal(problem, props.timeZone), props.fields);
      setMessages(explained);
      focusFirstError(props.id, explained);
    } finally {
      inFlight.current = false;
      setBusy(false);
    }
  };

  const errorId = (name: string) => `${props.id}-${name}-error`;
  return (
    <form
      class="command"
      id={props.id}
      aria-labelledby={`${props.id}-title`}
      onSubmit={submit}
      noValidate
    >
      <h3 id={`${props.id}-title`}>{props.title}</h3>
      {props.intro}
      {props.fields.map((f) => {
        const id = `${props.id}-${f.name}`;
        const error = messages[f.name];
        const describedBy = [error ? errorId(f.name) : "", f.hint ? `${id}-hint` : ""]
          .filter(Boolean)
          .join(" ");
        const common = {
          id,
          name: f.name,
          "aria-invalid": error ? true : undefined,
          "aria-describedby": describedBy || undefined,
          "aria-required": f.required ? true : undefined,
        } as const;
        return (
          <div class="field" key={f.name}>
            <label for={id}>
              {f.label}
              {f.required ? (
                <span aria-hidden="true"> *</span>
              ) : (
                <span class="muted"> (optional)</span>
              )}
            </label>
            {f.kind === "textarea" ? (
              <textarea
                {...common}
                rows={2}
                value={values[f.name] ?? ""}
                onInput={(e) => set(f.name, (e.target as HTMLTextAreaElement).value)}
              />
            ) : f.kind === "reason" ? (
              <select
                {...common}
                value={values[f.name] ?? "completed"}
                onChange={(e) => set(f.name, (e.target as HTMLSelectElement).value)}
              >
                <option value="completed">Completed (the wear period is over)</option>
                <option value="device_returned">Device returned</option>
              </select>
            ) : f.kind === "datetime" ? (
              <input
                {...common}
                type="datetime-local"
                value={values[f.name] ?? ""}
                onInput={(e) => set(f.name, (e.target as HTMLInputElement).value)}
              />
            ) : (
              <input
                {...common}
                type="text"
                autocomplete="off"
                list={f.suggestions ? `${id}-choices` : undefined}
                value={values[f.name] ?? ""}
                onInput={(e) => set(f.name, (e.target as HTMLInputElement).value)}
              />
            )}
            {f.suggestions && (
              <datalist id={`${id}-choices`}>
                {f.suggestions.map((o) => (
                  <option key={o.value} value={o.value} label={o.label} />
                ))}
              </datalist>
            )}
            {f.hint && (
              <p id={`${id}-hint`} class="hint">
                {f.hint}
              </p>
            )}
            {error && (
              <p id={errorId(f.name)} class="field-error" data-field={f.name}>
                {error}
              </p>
            )}
          </div>
        );
      })}
      {messages.form && (
        <p id={errorId("form")} class="field-error" role="alert" data-field="form">
          {messages.form}
        </p>
      )}
      <button
        type="submit"
        class={props.danger ? "danger" : undefined}
        disabled={busy}
        aria-busy={busy}
      >
        {busy ? "Sending…" : props.submitLabel}
      </button>
    </form>
  );
};

/** Focus goes to the first field with a message (or the form's message is announced). */
const focusFirstError = (formId: string, messages: FieldMessages) => {
  requestAnimationFrame(() => {
    const first = Object.keys(messages).find((k) => k !== "form");
    const el = first ? document.getElementById(`${formId}-${first}`) : undefined;
    el?.focus();
  });
};

/** A message for a field this form does not have is said about the form. */
const onFields = (messages: FieldMessages, fields: ReadonlyArray<FieldSpec>): FieldMessages => {
  const out: FieldMessages = {};
  for (const [name, text] of Object.entries(messages) as Array<[Field, string]>) {
    const target = name === "form" || fields.some((f) => f.name === name) ? name : "form";
    out[target] = out[target] ? `${out[target]} ${text}` : text;
  }
  return out;
};
