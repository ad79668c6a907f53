import type { AssignmentCommand } from "../commands.js";

/**
 * A deliberately plain model of the assignment rules, written apart from
 * `decide`/`evolve`, for model-based tests: both must accept and reject the
 * same commands and end in the same state. Corrections included: the model
 * keeps a device's live intervals in a plain array and checks every rule by
 * brute force.
 */
export interface ModelInterval {
  patientId: string;
  patientName: string | null;
  start: number;
  end: number | null;
  reason: string | null;
}

export interface ModelDevice {
  /** Live intervals, oldest first. */
  intervals: Array<ModelInterval>;
  /** Retracted assignments: their start and when they were retracted, oldest first. */
  retracted: Array<{ start: number; at: number }>;
}

export type ModelOutcome =
  | { ok: true }
  | {
      ok: false;
      error: string;
      /** For `AssignmentsWouldOverlap`: the start of the assignment named as the conflict. */
      conflictingStart?: number;
    };

export class ReferenceModel {
  readonly devices = new Map<string, ModelDevice>();
  constructor(readonly maxFutureSkewMs: number) {}

  device(id: string): ModelDevice {
    let d = this.devices.get(id);
    if (!d) {
      d = { intervals: [], retracted: [] };
      this.devices.set(id, d);
    }
    return d;
  }

  /**
   * The latest effective time of the device's live intervals: the newest
   * one's end, or its start while it lasts; null with none. Ordinary commands
   * may not be dated before it.
   */
  lastAt(id: string): number | null {
    const newest = this.device(id).intervals.at(-1);
    return newest ? (newest.end ?? newest.start) : null;
  }

  active(id: string): ModelInterval | null {
    const last = this.device(id).intervals.at(-1);
    return last && last.end === null ? last : null;
  }

  /** Patients' active devices, as the model sees them. */
  activeDevicesOf(patientId: string): Array<string> {
    const out: Array<string> = [];
    for (const [id] of this.devices) if (this.active(id)?.patientId === patientId) out.push(id);
    return out.sort();
  }

  apply(c: AssignmentCommand): ModelOutcome {
    switch (c._tag) {
      case "RetractAssignment":
      case "CorrectAssignmentPatient":
      case "AmendAssignmentPeriod":
        return this.correct(c);
      default:
        return this.ordinary(c);
    }
  }

  private ordinary(
    c: Exclude<
      AssignmentCommand,
      { _tag: "RetractAssignment" | "CorrectAssignmentPatient" | "AmendAssignmentPeriod" }
    >,
  ): ModelOutcome {
    const d = this.device(c.deviceId);
    const lastAt = this.lastAt(c.deviceId);
    if (lastAt !== null && c.at < lastAt) return { ok: false, error: "EventTimeBeforeLastEvent" };
    if (c.at - c.now > this.maxFutureSkewMs) return { ok: false, error: "EventTimeInFuture" };
    const active = this.active(c.deviceId);
    const close = (): ModelOutcome | null => {
      if (!active) return { ok: false, error: "NoActiveAssignment" };
      if (c.at <= active.start) return { ok: false, error: "EmptyAssignmentInterval" };
      return null;
    };
    const open = (patientId: string, patientName: string | undefined) =>
      d.intervals.push({
        patientId,
        patientName: patientName ?? null,
        start: c.at,
        end: null,
        reason: null,
      });
    switch (c._tag) {
      case "AssignDevice":
        if (active) return { ok: false, error: "DeviceAlreadyAssigned" };
        open(c.patientId, c.patientName);
        break;
      case "EndAssignment": {
        if (active && active.patientId !== c.patientId) {
          return { ok: false, error: "AssignmentBelongsToAnotherPatient" };
        }
        const refused = close();
        if (refused) return refused;
        active!.end = c.at;
        active!.reason = c.reason;
        break;
      }
      case "ReassignDevice": {
        const refused = close();
        if (refused) return refused;
        active!.end = c.at;
        active!.reason = c.reason;
        open(c.patientId, c.patientName);
        break;
      }
      case "ReturnDevice": {
        const refused = close();
        if (refused) return refused;
        active!.end = c.at;
        active!.reason = "device_returned";
        break;
      }
    }
    return { ok: true };
  }

  private correct(
    c: Extract<
      AssignmentCommand,
      { _tag: "RetractAssignment" | "CorrectAssignmentPatient" | "AmendAssignmentPeriod" }
    >,
  ): ModelOutcome {
    const d = this.device(c.deviceId);
    const k = d.intervals.findIndex((i) => i.start === c.start);
    if (k < 0) {
      const gone = d.retracted.some((r) => r.start === c.start);
      return { ok: false, error: gone ? "AssignmentAlreadyRetracted" : "AssignmentNotFound" };
    }
    const target = d.intervals[k]!;
    switch (c._tag) {
      case "RetractAssignment":
        d.intervals.splice(k, 1);
        d.retracted.push({ start: c.start, at: c.now });
        return { ok: true };
      case "CorrectAssignmentPatient":
        if (target.patientId === c.patientId && target.patientName === (c.patientName ?? null))
          return { ok: false, error: "CorrectionChangesNothing" };
        target.patientId = c.patientId;
        target.patientName = c.patientName ?? null;
        return { ok: true };
      case "AmendAssignmentPeriod": {
        if (c.newEnd !== undefined && target.end === null)
          return { ok: false, error: "AssignmentNotEnded" };
        const start = c.newStart ?? target.start;
        const end = c.newEnd ?? target.end;
        if (start === target.start && end === target.end)
          return { ok: false, error: "CorrectionChangesNothing" };
        const limit = c.now + this.maxFutureSkewMs;
        if (start !== target.start && start > limit)
          return { ok: false, error: "EventTimeInFuture" };
        if (end !== target.end && end !== null && end > limit)
          return { ok: false, error: "EventTimeInFuture" };
        if (end !== null && end <= start) return { ok: false, error: "EmptyAssignmentInterval" };
        const changes = [{ at: k, start, end }];
        if (c.moveAdjoining) {
          const before = d.intervals[k - 1];
          if (start !== target.start && before && before.end === target.start) {
            if (start <= before.start) return { ok: false, error: "EmptyAssignmentInterval" };
            changes.push({ at: k - 1, start: before.start, end: start });
          }
          const after = d.intervals[k + 1];
          if (end !== target.end && end !== null && after && after.start === target.end) {
            if (after.end !== null && after.end <= end)
              return { ok: false, error: "EmptyAssignmentInterval" };
            changes.push({ at: k + 1, start: end, end: after.end });
          }
        }
        const touched = new Set(changes.map((x) => x.at));
        const overlap = (a: { start: number; end: number | null }, b: ModelInterval) =>
          a.start < (b.end ?? Infinity) && b.start < (a.end ?? Infinity);
        for (const [j, other] of d.intervals.entries()) {
          if (!touched.has(j) && changes.some((x) => overlap(x, other)))
            return { ok: false, error: "AssignmentsWouldOverlap", conflictingStart: other.start };
        }
        for (const x of changes) {
          d.intervals[x.at]!.start = x.start;
          d.intervals[x.at]!.end = x.end;
        }
        d.intervals.sort((a, b) => a.start - b.start);
        return { ok: true };
      }
    }
  }

  /** Brute-force owner of a sample time: scan every live interval. */
  ownerAt(deviceId: string, t: number): ModelInterval | null {
    for (const i of this.device(deviceId).intervals) {
      if (i.start <= t && (i.end === null || t < i.end)) return i;
    }
    return null;
  }
}
