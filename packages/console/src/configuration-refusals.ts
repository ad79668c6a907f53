import type { Problem } from "./api.js";

export type ConfigurationField =
  | "sample_rate_hz"
  | "interval_ms"
  | "live_interval_ms"
  | "duration_min"
  | "form";
export type ConfigurationMessages = Partial<Record<ConfigurationField, string>>;

const KEY_OF: Record<string, ConfigurationField> = {
  "sensor.sample_rate_hz": "sample_rate_hz",
  "publish.interval_ms": "interval_ms",
  interval_ms: "live_interval_ms",
  duration_s: "duration_min",
};

/** The API's refusal of a change, in plain words next to the field it concerns. */
export const explainConfigurationRefusal = (problem: Problem): ConfigurationMessages => {
  const slug = problem.type.split("/").pop() ?? "";
  switch (slug) {
    case "validation-error": {
      const out: ConfigurationMessages = {};
      for (const issue of problem.errors ?? []) {
        const field = KEY_OF[issue.path] ?? "form";
        // The API names the configuration file's key; the form names the field.
        const text = issue.message
          .replace(/^sample_rate_hz must be/, "The sample rate must be")
          .replace(/^(live_)?interval_ms must be/, "The interval must be")
          .replace(
            /^duration_s must be between \d+ and (\d+)/,
            (_m, most: string) => `Live mode lasts 1 to ${Number(most) / 60} minutes`,
          )
          .replace(/^duration_s must be a whole number/, "The duration is a whole number");
        out[field] = out[field] ? `${out[field]} ${text}.` : `${text}.`;
      }
      if (Object.keys(out).length === 0)
        out.form = `The server refused the change: ${problem.detail ?? problem.title}.`;
      return out;
    }
    case "forbidden":
      return { form: "Your role may read but not change a device's settings." };
    case "concurrent-change":
    case "shadow-busy":
      return { form: "The device's settings changed at the same moment. Try again." };
    case "shadow-refused":
      return {
        form: `The device settings service refused the change: ${problem.detail ?? problem.title}.`,
      };
    case "shadow-too-large":
      return { form: "The device's settings document is full (8 KB); nothing was changed." };
    case "shadow-unavailable":
      return { form: "The device settings service is unavailable. Try again in a moment." };
    case "network-error":
      return { form: "The server did not answer. Send it again (it is safe to repeat)." };
    default:
      return { form: `The server refused the change: ${problem.detail ?? problem.title}.` };
  }
};
