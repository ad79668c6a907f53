import { Schema } from "effect";
import { CurrentAssignment } from "../assignment.js";
import { DeviceId, EpochMillis } from "../ids.js";
import type { Commit } from "../ports/event-store.js";
import { DeviceConnected, DeviceDisconnected, type PresenceEvent } from "./presence.js";

/**
 * What the device shadow reports, in short (agent version, rate, interval,
 * …): flat fields, kept beside presence for the fleet view. Filled by the
 * device shadow; null until a device reports.
 */
export const ReportedSummary = Schema.Record({
  key: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  value: Schema.Union(Schema.String, Schema.Number, Schema.Boolean, Schema.Null),
});
export type ReportedSummary = typeof ReportedSummary.Type;

/**
 * One device as the fleet sees it: its newest connect and disconnect as AWS
 * reported them, who wears it (from the assignment commits), and what its
 * shadow reports, and the time of its newest sample to the minute
 * (`applySampleTime`: written by the ingest at most once a minute a device,
 * so the fleet reads one row a device and a sample costs no extra write).
 */
export const FleetDeviceStatus = Schema.Struct({
  deviceId: DeviceId,
  /** The newest `connected` lifecycle event; null if the device never connected. */
  lastConnect: Schema.NullOr(DeviceConnected),
  /** The newest `disconnected` lifecycle event; null if it never disconnected. */
  lastDisconnect: Schema.NullOr(DeviceDisconnected),
  /** Who wears it now, as the newest commit applied says; null: nobody. */
  assignment: Schema.NullOr(CurrentAssignment),
  /** The stream version of the newest assignment commit applied (0: none yet). */
  assignmentVersion: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
  reported: Schema.NullOr(ReportedSummary),
  /**
   * When its newest sample was taken, as the ingest last recorded it (at most
   * `SAMPLE_TIME_STEP_MS` behind); null: none recorded (rows from before it
   * was kept read as null until the device's next sample).
   */
  lastSampleAt: Schema.optionalWith(Schema.NullOr(EpochMillis), { default: () => null }),
});
export type FleetDeviceStatus = typeof FleetDeviceStatus.Type;

export const initialDeviceStatus = (deviceId: DeviceId): FleetDeviceStatus => ({
  deviceId,
  lastConnect: null,
  lastDisconnect: null,
  assignment: null,
  assignmentVersion: 0,
  reported: null,
  lastSampleAt: null,
});

/**
 * How far a device's newest sample must move on before its status row is
 * written again: once a minute at most, whatever the publish interval (a
 * device publishing every second would otherwise write its row 86,400 times
 * a day).
 */
export const SAMPLE_TIME_STEP_MS = 60_000;

/**
 * The device's status with its newest sample taken at `at`: unchanged (the
 * same object) unless `at` is at least `SAMPLE_TIME_STEP_MS` after the time
 * held, or no time is held. Older or redelivered samples change nothing.
 */
export const applySampleTime = (status: FleetDeviceStatus, at: EpochMillis): FleetDeviceStatus =>
  status.lastSampleAt !== null && at < status.lastSampleAt + SAMPLE_TIME_STEP_MS
    ? status
    : { ...status, lastSampleAt: at };

/**
 * AWS resets a client's `versionNumber` to 0 after about an hour without a
 * connection, and stamps events within ±2 minutes. Two events further apart
 * than this are ordered by their time (a reset may lie between them: they are
 * at least ~56 minutes apart then); nearer ones by their version, which AWS
 * gives for exactly that ("can be used by a subscriber to infer the order").
 */
export const PRESENCE_VERSION_WINDOW_MS = 30 * 60_000;

const rank = (e: PresenceEvent) => (e.eventType === "connected" ? 0 : 1);
const text = (e: PresenceEvent) => JSON.stringify(Object.entries(e).sort());

/**
 * The order of a client's lifecycle events, whatever order they arrive in:
 * positive when `a` happened after `b`, 0 for the same event. Within
 * `PRESENCE_VERSION_WINDOW_MS`: the higher version; of one version (a
 * connection's connect and disconnect share it), the disconnect; then time.
 * Further apart: time. Every real history is ordered right (eras between
 * version resets are more than the window apart; inside one, versions
 * increase), which is all a fold needs to give the same status in any order.
 */
export const comparePresence = (a: PresenceEvent, b: PresenceEvent): number => {
  const dt = a.timestamp - b.timestamp;
  if (Math.abs(dt) > PRESENCE_VERSION_WINDOW_MS) return dt;
  return (
    a.versionNumber - b.versionNumber ||
    rank(a) - rank(b) ||
    dt ||
    // Two different events that tie so far: any fixed order, so the fold stays order-free.
    (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0)
  );
};

const newer = <E extends PresenceEvent>(held: E | null, event: E): boolean =>
  held === null || comparePresence(event, held) > 0;

/**
 * The status after a lifecycle event: the newest connect and the newest
 * disconnect are kept, so any order and any repetition of the same events
 * give the same status. Returns `status` itself when the event changes nothing
 * (a duplicate, or older than what is held).
 */
export const applyPresence = (
  status: FleetDeviceStatus,
  event: PresenceEvent,
): FleetDeviceStatus => {
  if (event.eventType === "connected")
    return newer(status.lastConnect, event) ? { ...status, lastConnect: event } : status;
  return newer(status.lastDisconnect, event) ? { ...status, lastDisconnect: event } : status;
};

/** Whether the device is connected: its newest lifecycle event is a connect. */
export const isConnected = (status: FleetDeviceStatus): boolean =>
  status.lastConnect !== null &&
  (status.lastDisconnect === null ||
    comparePresence(status.lastConnect, status.lastDisconnect) > 0);

/**
 * When the broker last saw the device: now while it is connected, else when
 * it disconnected (or connected, if that is all that is known); null if never.
 */
export const lastSeenAt = (status: FleetDeviceStatus, now: EpochMillis): EpochMillis | null => {
  if (isConnected(status)) return now;
  return status.lastDisconnect?.timestamp ?? status.lastConnect?.timestamp ?? null;
};

/**
 * The status after an assignment commit: who wears the device after the
 * commit is what its last event says (an assign names the patient; an end
 * leaves nobody; a hand-over ends with the next assign). A commit no newer
 * than the one applied (a redelivery, or one overtaken) changes nothing, so
 * commits may arrive in any order and more than once.
 */
export const applyAssignmentCommit = (
  status: FleetDeviceStatus,
  commit: Commit,
): FleetDeviceStatus => {
  if (commit.deviceId !== status.deviceId || commit.version <= status.assignmentVersion)
    return status;
  const last = commit.events[commit.events.length - 1];
  const assignment =
    last?._tag === "DeviceAssigned"
      ? {
          deviceId: last.deviceId,
          patientId: last.patientId,
          assignedBy: last.assignedBy,
          start: last.at,
          ...(last.patientName !== undefined ? { patientName: last.patientName } : {}),
          ...(last.notes !== undefined ? { notes: last.notes } : {}),
        }
      : null;
  return { ...status, assignment, assignmentVersion: commit.version };
};

/** The `reported` fields the fleet view keeps, as flat keys (a path into the report each). */
const SUMMARY_FIELDS: ReadonlyArray<
  readonly [string, ReadonlyArray<string>, "string" | "number" | "boolean"]
> = [
  ["agent_version", ["agent", "version"], "string"],
  ["sensor_model", ["sensor", "model"], "string"],
  ["sensor_healthy", ["sensor", "healthy"], "boolean"],
  ["sample_rate_hz", ["sensor", "sample_rate_hz"], "number"],
  ["publish_interval_ms", ["publish", "interval_ms"], "number"],
  ["effective_interval_ms", ["publish", "effective_interval_ms"], "number"],
  ["live_until", ["publish", "live_until"], "number"],
  ["basic_ingest", ["publish", "basic_ingest"], "boolean"],
  ["last_publish_at", ["publish", "last_publish_at"], "number"],
  ["outbox_depth", ["outbox", "depth"], "number"],
  ["outbox_drops", ["outbox", "drops"], "number"],
  ["reconnects", ["reconnects"], "number"],
  ["uptime_s", ["uptime_s"], "number"],
  ["reported_at", ["timestamp"], "number"],
];

const at = (value: unknown, path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>(
    (v, key) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? (v as Record<string, unknown>)[key]
        : undefined,
    value,
  );

/**
 * The short form of a shadow's `reported` state the fleet view shows: the
 * agent's version, its sensor, its rate and intervals, its outbox, how many
 * settings it refused, and the shadow's version. Whatever the report holds
 * (an older agent's, or a partial one), only plain values at the known paths
 * of the expected type are taken; the rest is left out.
 */
export const reportedSummary = (reported: unknown, shadowVersion: number): ReportedSummary => {
  const summary: Record<string, string | number | boolean | null> = {
    shadow_version: shadowVersion,
  };
  for (const [key, path, type] of SUMMARY_FIELDS) {
    const v = at(reported, path);
    if (typeof v !== type || (typeof v === "number" && !Number.isFinite(v))) continue;
    summary[key] = typeof v === "string" ? v.slice(0, 256) : (v as number | boolean);
  }
  const refused = at(reported, ["refused"]);
  if (Array.isArray(refused)) summary.refused_settings = refused.length;
  return summary;
};

/**
 * The status after a shadow update: its reported summary, unless the row
 * holds one of a newer shadow version (updates may arrive out of order or
 * twice). Returns `status` itself when nothing changes.
 */
export const applyReported = (
  status: FleetDeviceStatus,
  summary: ReportedSummary,
): FleetDeviceStatus => {
  const held = status.reported?.shadow_version;
  const next = summary.shadow_version;
  if (typeof held === "number" && typeof next === "number" && next <= held) return status;
  return { ...status, reported: summary };
};
