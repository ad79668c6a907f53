import type { ConfigurationMessages } from "./configuration-refusals.js";
import { PUBLISH_INTERVAL_HINT, SAMPLE_RATE_HINT } from "./settings-form.js";

/** What the API or the form said about a field, next to it (nothing when all is well). */
export const FieldError = ({ id, text }: { id: string; text: string | undefined }) =>
  text ? (
    <p id={id} class="field-error">
      {text}
    </p>
  ) : null;

/**
 * A field for a whole number: its label, the input, its hint and its error
 * (`${id}-hint`, `${id}-error`), the input described by both when shown.
 */
export const NumberField = ({
  id,
  label,
  value,
  onValue,
  hint,
  error,
}: {
  readonly id: string;
  readonly label: string;
  readonly value: string;
  readonly onValue: (value: string) => void;
  readonly hint?: string;
  readonly error: string | undefined;
}) => {
  const describedBy = [hint ? `${id}-hint` : undefined, error ? `${id}-error` : undefined]
    .filter(Boolean)
    .join(" ");
  return (
    <>
      <label for={id}>{label}</label>
      <input
        id={id}
        inputMode="numeric"
        value={value}
        autocomplete="off"
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        onInput={(e) => onValue((e.target as HTMLInputElement).value)}
      />
      {hint && (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      )}
      <FieldError id={`${id}-error`} text={error} />
    </>
  );
};

/**
 * The device settings a clinician changes (sample rate, publish interval), as
 * the configuration panel and the jobs panel ask for them; `id` makes a field's
 * element id (`id("sample_rate_hz")`).
 */
export const SettingsFields = ({
  id,
  rate,
  onRate,
  interval,
  onInterval,
  messages,
}: {
  readonly id: (field: string) => string;
  readonly rate: string;
  readonly onRate: (value: string) => void;
  readonly interval: string;
  readonly onInterval: (value: string) => void;
  readonly messages: ConfigurationMessages;
}) => (
  <>
    <NumberField
      id={id("sample_rate_hz")}
      label="Sample rate (Hz)"
      value={rate}
      onValue={onRate}
      hint={SAMPLE_RATE_HINT}
      error={messages.sample_rate_hz}
    />
    <NumberField
      id={id("interval_ms")}
      label="Publish interval (ms)"
      value={interval}
      onValue={onInterval}
      hint={PUBLISH_INTERVAL_HINT}
      error={messages.interval_ms}
    />
  </>
);
