import { Schema } from "effect";
import type { CurrentAssignment } from "../assignment.js";
import { Actor, DeviceId, EpochMillis, PatientId } from "../ids.js";

/** How long an assigned device may send no sample before it has a data gap, unless configured. */
export const DEFAULT_GAP_MS = 10 * 60_000;

/**
 * A data-gap alert's id: the device, its assignment and the time its data
 * stopped, so the same gap found twice (a detector run again, two runs at
 * once) is one alert, and a gap of another assignment is another.
 */
export const AlertId = Schema.String.pipe(
  Schema.pattern(/^gap\.[a-zA-Z0-9:_-]{1,128}\.\d{1,16}\.\d{1,16}$/, {
    message: () => "an alert id is gap.<device id>.<assignment start>.<since>",
  }),
  Schema.brand("AlertId"),
);
export type AlertId = typeof AlertId.Type;

export const alertIdOf = (
  deviceId: DeviceId,
  assignmentStart: EpochMillis,
  since: EpochMillis,
): AlertId => `gap.${deviceId}.${assignmentStart}.${since}` as AlertId;

/** Why a gap closed: samples came again, or the device is no longer on the patient. */
export const GapCloseReason = Schema.Literal("data-resumed", "assignment-ended");
export type GapCloseReason = typeof GapCloseReason.Type;

const GapFields = {
  alertId: AlertId,
  deviceId: DeviceId,
  patientId: PatientId,
  /** The start of the assignment the gap is in (a new assignment is another gap). */
  assignmentStart: EpochMillis,
  /** The newest sample's time when the gap was found, or the assignment's start if later. */
  since: EpochMillis,
  /** When the gap was found. */
  raisedAt: EpochMillis,
};

/** An assigned device sent no sample for the gap time: raised once per gap. */
export const DataGapOpened = Schema.TaggedStruct("DataGapOpened", GapFields);
export type DataGapOpened = typeof DataGapOpened.Type;

/** The gap is over: closed once, for the first reason found. */
export const DataGapClosed = Schema.TaggedStruct("DataGapClosed", {
  ...GapFields,
  closedAt: EpochMillis,
  reason: GapCloseReason,
});
export type DataGapClosed = typeof DataGapClosed.Type;

export const DataGapEvent = Schema.Union(DataGapOpened, DataGapClosed);
export type DataGapEvent = typeof DataGapEvent.Type;

/** An alert as kept and listed: the gap, whether it is over, and who acknowledged it. */
export const Alert = Schema.Struct({
  id: AlertId,
  kind: Schema.Literal("data-gap"),
  deviceId: DeviceId,
  patientId: PatientId,
  assignmentStart: EpochMillis,
  since: EpochMillis,
  raisedAt: EpochMillis,
  closedAt: Schema.NullOr(EpochMillis),
  closeReason: Schema.NullOr(GapCloseReason),
  acknowledgedAt: Schema.NullOr(EpochMillis),
  acknowledgedBy: Schema.NullOr(Actor),
});
export type Alert = typeof Alert.Type;

export const isOpen = (alert: Alert): boolean => alert.closedAt === null;

/** The alert an opened gap makes. */
export const alertOf = (opened: DataGapOpened): Alert => ({
  id: opened.alertId,
  kind: "data-gap",
  deviceId: opened.deviceId,
  patientId: opened.patientId,
  assignmentStart: opened.assignmentStart,
  since: opened.since,
  raisedAt: opened.raisedAt,
  closedAt: null,
  closeReason: null,
  acknowledgedAt: null,
  acknowledgedBy: null,
});

/** The alert once its gap closed; an alert closed already keeps its first close. */
export const closeAlert = (alert: Alert, closed: DataGapClosed): Alert =>
  alert.closedAt !== null
    ? alert
    : { ...alert, closedAt: closed.closedAt, closeReason: closed.reason };

/** Acknowledged by a clinician; acknowledging again keeps the first acknowledgement. */
export const acknowledgeAlert = (alert: Alert, by: Actor, at: EpochMillis): Alert =>
  alert.acknowledgedAt !== null ? alert : { ...alert, acknowledgedAt: at, acknowledgedBy: by };

/** What the gap rule looks at for one device. */
export interface GapCheck {
  readonly deviceId: DeviceId;
  /** Who wears the device now; null: nobody. */
  readonly assignment: CurrentAssignment | null;
  /** The device's newest sample (anyone's), or null if it has none. */
  readonly lastSampleAt: EpochMillis | null;
  /** The device's open gap alerts (one, unless two detectors raced). */
  readonly open: ReadonlyArray<Alert>;
  readonly now: EpochMillis;
  readonly gapMs: number;
}

/** Where an assigned device's silence is counted from: its newest sample, or the assignment's start if later. */
export const silentSince = (
  assignment: Pick<CurrentAssignment, "start">,
  lastSampleAt: EpochMillis | null,
): EpochMillis =>
  lastSampleAt !== null && lastSampleAt > assignment.start ? lastSampleAt : assignment.start;

/**
 * The gap rule: an assigned device with no sample for `gapMs` since
 * `silentSince` has a data gap. An open gap closes when a sample newer than
 * its `since` exists (`data-resumed`) or when the device is not on that
 * assignment any more (`assignment-ended`, a new assignment included); a
 * device with no open gap left may open a new one in the same check. Pure and
 * total: the detector runs it for every device on every pass, and running it
 * again on what it produced gives nothing new.
 */
export const checkDataGap = (check: GapCheck): ReadonlyArray<DataGapEvent> => {
  const { assignment, lastSampleAt, now } = check;
  const events: Array<DataGapEvent> = [];
  let stillOpen = false;
  for (const alert of check.open) {
    if (!isOpen(alert)) continue;
    const sameAssignment =
      assignment !== null &&
      assignment.patientId === alert.patientId &&
      assignment.start === alert.assignmentStart;
    const reason: GapCloseReason | null = !sameAssignment
      ? "assignment-ended"
      : lastSampleAt !== null && lastSampleAt > alert.since
        ? "data-resumed"
        : null;
    if (reason === null) {
      stillOpen = true;
      continue;
    }
    events.push({
      _tag: "DataGapClosed",
      alertId: alert.id,
      deviceId: alert.deviceId,
      patientId: alert.patientId,
      assignmentStart: alert.assignmentStart,
      since: alert.since,
      raisedAt: alert.raisedAt,
      closedAt: now,
      reason,
    });
  }
  if (stillOpen || assignment === null) return events;
  const since = silentSince(assignment, lastSampleAt);
  if (now - since < check.gapMs) return events;
  events.push({
    _tag: "DataGapOpened",
    alertId: alertIdOf(check.deviceId, assignment.start, since),
    deviceId: check.deviceId,
    patientId: assignment.patientId,
    assignmentStart: assignment.start,
    since,
    raisedAt: now,
  });
  return events;
};

/**
 * When an assigned device without an open gap would have one if no sample
 * came (null: unassigned, or a gap is open): when the detector should look next.
 */
export const gapDueAt = (check: Omit<GapCheck, "now">): EpochMillis | null => {
  if (check.assignment === null || check.open.some(isOpen)) return null;
  return (silentSince(check.assignment, check.lastSampleAt) + check.gapMs) as EpochMillis;
};
