import { DAY_MS } from "./enrichment.js";
import { InvalidPayload } from "./telemetry/json.js";
import type { SensorMessage } from "./telemetry/sensor-message.js";

/**
 * What one message may claim, so that no device (or forged message) can
 * reach far into a patient's past, run ahead of the clock, or make the ingest
 * write thousands of items at once.
 */
export interface IngestLimits {
  /**
   * How long before its arrival a sample may have been taken. A device's
   * outbox can hold days; what is older than the retention period would be
   * deleted as soon as it is stored, so it is never more than that.
   */
  readonly maxAgeMs: number;
  /** How far after its arrival a sample's time may lie (device clocks run a little ahead). */
  readonly maxLeadMs: number;
  /** How far apart the first and the last sample of one message may lie. */
  readonly maxSpanMs: number;
  /** How many stored items (runs of one assignment) one message may make. */
  readonly maxSegments: number;
}

export const DEFAULT_MAX_LEAD_MS = 5 * 60_000;
export const DEFAULT_MAX_SPAN_MS = 60 * 60_000;
export const DEFAULT_MAX_SEGMENTS = 64;

/** The limits for a retention period: samples up to that old (30 days unless set). */
export const ingestLimits = (
  retentionMs: number,
  overrides: Partial<IngestLimits> = {},
): IngestLimits => ({
  maxAgeMs: Math.min(overrides.maxAgeMs ?? retentionMs, retentionMs),
  maxLeadMs: overrides.maxLeadMs ?? DEFAULT_MAX_LEAD_MS,
  maxSpanMs: overrides.maxSpanMs ?? DEFAULT_MAX_SPAN_MS,
  maxSegments: overrides.maxSegments ?? DEFAULT_MAX_SEGMENTS,
});

const days = (ms: number) => `${Math.round((ms / DAY_MS) * 10) / 10} days`;

/** Why a decoded message is refused by the limits, or undefined when it keeps them. */
export const beyondLimits = (
  message: SensorMessage,
  limits: IngestLimits,
): InvalidPayload | undefined => {
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const s of message.samples) {
    if (s.timestamp < first) first = s.timestamp;
    if (s.timestamp > last) last = s.timestamp;
  }
  if (first < message.receivedAt - limits.maxAgeMs)
    return refused(
      "sample older than the retention period",
      `a sample taken at ${first} arrived at ${message.receivedAt}: more than ${days(limits.maxAgeMs)} before`,
    );
  if (last > message.receivedAt + limits.maxLeadMs)
    return refused(
      "sample time ahead of the receive time",
      `a sample taken at ${last} arrived at ${message.receivedAt}: more than ${limits.maxLeadMs / 1000} s ahead (is the device's clock right?)`,
    );
  if (last - first > limits.maxSpanMs)
    return refused(
      "batch spans too long",
      `its samples lie ${Math.round((last - first) / 1000)} s apart; at most ${limits.maxSpanMs / 1000} s`,
    );
  return undefined;
};

/** The message would make more items than one message may. */
export const tooManySegments = (count: number, limits: IngestLimits): InvalidPayload | undefined =>
  count > limits.maxSegments
    ? refused(
        "message makes too many items",
        `its samples fall into ${count} assignment runs; at most ${limits.maxSegments}`,
      )
    : undefined;

const refused = (reason: string, message: string) =>
  new InvalidPayload({ reason, issues: [{ path: "", message }] });
