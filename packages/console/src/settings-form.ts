import type { ConfigurationMessages } from "./configuration-refusals.js";

/** The settings a clinician may ask of a device, as the API's `ConfigurationChange` takes them. */
export interface SettingsChange {
  readonly sensor?: { readonly sample_rate_hz: number };
  readonly publish?: { readonly interval_ms: number };
}

const wholeNumber = (v: string) => (/^\s*\d+\s*$/.test(v) ? Number(v) : undefined);

/** The hints beside the fields (the API's rules; it checks them again). */
export const SAMPLE_RATE_HINT = "1 to 50 Hz, or 100, 200 or 400 Hz. Empty: unchanged.";
export const PUBLISH_INTERVAL_HINT =
  "How often a batch of samples is sent: 100 to 60,000 ms. Empty: unchanged.";

/**
 * The sample rate and publish interval typed into a form (either may be
 * empty, not both), checked before sending: whole numbers; the ranges are the
 * API's to refuse, in its words. The configuration panel and a `config.set`
 * job read their fields with it.
 */
export const readSettingsForm = (
  rate: string,
  interval: string,
): { readonly settings: SettingsChange } | { readonly messages: ConfigurationMessages } => {
  const out: ConfigurationMessages = {};
  const hz = rate.trim() === "" ? undefined : wholeNumber(rate);
  const ms = interval.trim() === "" ? undefined : wholeNumber(interval);
  if (rate.trim() !== "" && hz === undefined)
    out.sample_rate_hz = "The sample rate is a whole number of samples a second.";
  if (interval.trim() !== "" && ms === undefined)
    out.interval_ms = "The interval is a whole number of milliseconds.";
  if (rate.trim() === "" && interval.trim() === "")
    out.form = "Enter a new sample rate, a new publish interval, or both.";
  if (Object.keys(out).length > 0) return { messages: out };
  return {
    settings: {
      ...(hz !== undefined ? { sensor: { sample_rate_hz: hz } } : {}),
      ...(ms !== undefined ? { publish: { interval_ms: ms } } : {}),
    },
  };
};
