import type { AssignmentCommand } from "../commands.js";

/**
 * A deliberately plain model of the assignment rules, written apart from
 * `decide`/`evolve`, for model-based tests: both must accept and reject the
 * same commands and end in the same state.
 */
export interface ModelInterval {
  patientId: string;
  start: number;
  end: number | null;
  reason: string | null;
}

export interface ModelDevice {
  lastAt: number | null;
  intervals: Array<ModelInterval>;
}

export type ModelOutcome = { ok: true } | { ok: false; error: string };

export class ReferenceModel {
  readonly devices = new Map<string, ModelDevice>();
  constructor(readonly maxFutureSkewMs: number) {}

  device(id: string): ModelDevice {
    let d = this.devices.get(id);
    if (!d) {
      d = { lastAt: null, intervals: [] };
      this.devices.set(id, d);
    }
    return d;
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
    const d = this.device(c.deviceId);
    if (d.lastAt !== null && c.at < d.lastAt)
      return { ok: false, error: "EventTimeBeforeLastEvent" };
    if (c.at - c.now > this.maxFutureSkewMs) return { ok: false, error: "EventTimeInFuture" };
    const active = this.active(c.deviceId);
    const close = (_reason: string): ModelOutcome | null => {
      if (!active) return { ok: false, error: "NoActiveAssignment" };
      if (c.at <= active.start) return { ok: false, error: "EmptyAssignmentInterval" };
      return null;
    };
    switch (c._tag) {
      case "AssignDevice":
        if (active) return { ok: false, error: "DeviceAlreadyAssigned" };
        d.intervals.push({ patientId: c.patientId, start: c.at, end: null, reason: null });
        break;
      case "EndAssignment": {
        if (active && active.patientId !== c.patientId) {
          return { ok: false, error: "AssignmentBelongsToAnotherPatient" };
        }
        const refused = close(c.reason);
        if (refused) return refused;
        active!.end = c.at;
        active!.reason = c.reason;
        break;
      }
      case "ReassignDevice": {
        const refused = close(c.reason);
        if (refused) return refused;
        active!.end = c.at;
        active!.reason = c.reason;
        d.intervals.push({ patientId: c.patientId, start: c.at, end: null, reason: null });
        break;
      }
      case "ReturnDevice": {
        const refused = close("device_returned");
        if (refused) return refused;
        active!.end = c.at;
        active!.reason = "device_returned";
        break;
      }
    }
    d.lastAt = c.at;
    return { ok: true };
  }

  /** Brute-force owner of a sample time: scan every interval. */
  ownerAt(deviceId: string, t: number): ModelInterval | null {
    for (const i of this.device(deviceId).intervals) {
      if (i.start <= t && (i.end === null || t < i.end)) return i;
    }
    return null;
  }
}
