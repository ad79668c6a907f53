import type {
  AssignmentInterval,
  AssignmentRecord,
  Commit,
  DeviceAssigned,
  DeviceId,
  PatientId,
  TimelinePage,
} from "@medusa/domain";
import { correctedRow, intervalStartedBy, statusOf } from "@medusa/domain";
import { Schema } from "effect";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type {
  AssignmentView,
  CorrectionResponse,
  DevicePatientResponse,
  RecordedAssignmentView,
  SampleView,
  SensorDataResponse,
} from "./schemas.js";

// How the domain's values read on the wire: the old backend's snake_case JSON.

/** An interval as the old backend's JSON shows an assignment. */
export const assignmentView = (i: AssignmentInterval): typeof AssignmentView.Type => ({
  device_id: i.deviceId,
  patient_id: i.patientId,
  patient_name: i.patientName ?? null,
  assigned_by: i.assignedBy,
  assignment_timestamp: i.start,
  assignment_end: i.end,
  ended_by: i.endedBy ?? null,
  status: statusOf(i),
  notes: i.notes ?? null,
  ...(i.correction !== undefined
    ? {
        correction: {
          corrected_by: i.correction.by,
          corrected_at: i.correction.recordedAt,
          reason: i.correction.reason,
          note: i.correction.note,
        },
      }
    : {}),
});

/** What a correction's commit changed: each corrected assignment as it now stands. */
export const correctedView = (commit: Commit): typeof CorrectionResponse.Type => ({
  status: "corrected",
  assignments: commit.events.flatMap((e) =>
    "correctedBy" in e ? [assignmentView(correctedRow(e))] : [],
  ),
});

const periodView = (p: {
  readonly patientId: string;
  readonly start: number;
  readonly end: number | null;
}) => ({
  patient_id: p.patientId,
  assignment_timestamp: p.start as AssignmentInterval["start"],
  assignment_end: p.end as AssignmentInterval["end"],
});

/** One assignment of the record as of a time, with its corrections beside it. */
export const recordedView = (r: AssignmentRecord): typeof RecordedAssignmentView.Type => ({
  ...assignmentView(r.interval),
  recorded_at: r.recordedAt,
  end_recorded_at: r.endRecordedAt,
  corrections: r.corrections.map((c) => ({
    kind: c.kind,
    corrected_by: c.by,
    corrected_at: c.recordedAt,
    reason: c.reason,
    note: c.note,
    before: periodView(c.before),
    after: c.after === null ? null : periodView(c.after),
  })),
});

/** The assignment a commit started, as the old backend returned it. */
export const startedView = (commit: Commit): typeof AssignmentView.Type | null => {
  const e = commit.events.find((x): x is DeviceAssigned => x._tag === "DeviceAssigned");
  return e ? assignmentView(intervalStartedBy(e)) : null;
};

export const devicePatientView = (
  deviceId: DeviceId,
  active: AssignmentInterval | null,
): typeof DevicePatientResponse.Type => ({
  device_id: deviceId,
  patient: active
    ? {
        patient_id: active.patientId,
        patient_name: active.patientName ?? null,
        assignment_timestamp: active.start,
        assigned_by: active.assignedBy,
        notes: active.notes ?? null,
      }
    : null,
});

export const timelineView = (
  patientId: PatientId,
  page: TimelinePage,
): typeof SensorDataResponse.Type => {
  const data = page.samples.map((s): typeof SampleView.Type => ({
    device_id: s.deviceId,
    timestamp: s.timestamp,
    accel_x: s.x,
    accel_y: s.y,
    accel_z: s.z,
    magnitude: s.magnitude,
    ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
    sequence: s.sequence,
  }));
  return { patient_id: patientId, data, count: data.length, next_cursor: page.nextCursor };
};

/**
 * Sends a response encoded with its response schema (the one the OpenAPI
 * document shows), so what a client gets is what the document says.
 */
export const send = <A, I>(
  c: Context,
  schema: Schema.Schema<A, I>,
  value: NoInfer<A>,
  status: ContentfulStatusCode = 200,
) => c.json(Schema.encodeSync(schema)(value) as object, status);
