// The settings the agent took from its shadow, kept on disk beside the outbox so that a restart keeps them.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import {
  type DeviceSettings,
  effectivePublishIntervalMs,
  readDesiredSettings,
  settingsState,
} from "@medusa/domain";
import type { DeviceConfig } from "./config.js";

/** The file, in the outbox's folder: `applied-settings.json`. */
export const appliedSettingsPath = (config: DeviceConfig): string =>
  join(config.outbox.path, "applied-settings.json");

/** The applied settings read back, and what was wrong with the file, if anything. */
export interface AppliedSettingsRead {
  readonly settings: DeviceSettings;
  readonly problem?: string;
}

/**
 * The applied settings as last saved; none when there is no file. A file
 * that cannot be read or holds a value the file's rules refuse is reported,
 * and what is valid in it is still taken (the agent starts either way).
 */
export const readAppliedSettings = (path: string): AppliedSettingsRead => {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return { settings: {} };
    return { settings: {}, problem: `cannot read ${path}: ${(e as Error).message}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return {
      settings: {},
      problem: `${path} is not JSON; the configuration file's values are used`,
    };
  }
  const { settings, refused } = readDesiredSettings(json);
  if (refused.length > 0)
    return {
      settings,
      problem: `${path}: ${refused.map((r) => `${r.setting}: ${r.reason}`).join("; ")}`,
    };
  return { settings };
};

/** Saves the applied settings: a new file, flushed, renamed over the old one. */
export const writeAppliedSettings = (path: string, settings: DeviceSettings): void => {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeSync(fd, `${JSON.stringify(settingsState(settings), null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
};

/** The configuration with the applied settings in place of the file's values for the fields they set. */
export const withAppliedSettings = (
  config: DeviceConfig,
  settings: DeviceSettings,
): DeviceConfig => ({
  ...config,
  sensor: { ...config.sensor, sampleRateHz: settings.sampleRateHz ?? config.sensor.sampleRateHz },
  publishIntervalMs: settings.publishIntervalMs ?? config.publishIntervalMs,
  statusIntervalMs: settings.statusIntervalMs ?? config.statusIntervalMs,
});

/** `--check`'s lines for the applied settings: each one with the file's value it replaces. */
export const describeAppliedSettings = (
  file: DeviceConfig,
  path: string,
  read: AppliedSettingsRead,
  now: number,
): ReadonlyArray<string> => {
  const s = read.settings;
  const lines: Array<string> = [];
  if (s.sampleRateHz !== undefined)
    lines.push(
      `sensor.sample_rate_hz = ${s.sampleRateHz} (the file says ${file.sensor.sampleRateHz})`,
    );
  if (s.publishIntervalMs !== undefined)
    lines.push(
      `publish.interval_ms = ${s.publishIntervalMs} (the file says ${file.publishIntervalMs})`,
    );
  if (s.statusIntervalMs !== undefined)
    lines.push(
      `publish.status_interval_ms = ${s.statusIntervalMs} (the file says ${file.statusIntervalMs})`,
    );
  if (s.live !== undefined)
    lines.push(
      s.live.until > now
        ? `live mode: every ${s.live.intervalMs} ms until ${new Date(s.live.until).toISOString()}, then every ${effectivePublishIntervalMs(s.publishIntervalMs ?? file.publishIntervalMs, undefined, now)} ms`
        : `live mode: ended ${new Date(s.live.until).toISOString()}`,
    );
  const head =
    lines.length === 0
      ? [`shadow settings    none applied (${path})`]
      : [
          `shadow settings    from ${path}, winning over the file:`,
          ...lines.map((l) => `                   ${l}`),
        ];
  return read.problem === undefined ? head : [...head, `warning: ${read.problem}`];
};
