import { Either, Schema } from "effect";
import type { EndReason } from "../assignment.js";
import type { AssignDevice, EndAssignment } from "../commands.js";
import {
  type Actor,
  type CommandId,
  DeviceId,
  type EpochMillis,
  Notes,
  PatientId,
  PatientName,
} from "../ids.js";
import type { ImportProvenance } from "./provenance.js";

/**
 * Importing the historical `device-patient-mapping` table: its rows (edited
 * by hand for years) as assignment commands, or the reasons they cannot be.
 * Pure: the rows, the operator's choices and the time come in; a plan comes
 * out. Nothing is guessed: every inconsistency is reported, and only a rule
 * the operator chose (`Resolutions`) or a correction they wrote changes a row.
 */

/** A row of the historical table as read (DynamoDB item, unmarshalled). */
export type HistoricalRow = Readonly<Record<string, unknown>>;

/** What can be wrong with a row. */
export type RowProblemKind =
  /** A field is missing or not what the table holds (no device or patient id, a time that is not a number…). */
  | "malformed"
  /** A time too large for epoch seconds: milliseconds, most likely; not converted blindly. */
  | "not-seconds"
  /** A `status` other than active, completed, device_returned (or none). */
  | "unknown-status"
  /** `assignment_end` not after `assignment_timestamp`. */
  | "end-before-start"
  /** A time after the import's own time. */
  | "in-future"
  /** Status `active` while a later row of the same device exists: several "active" rows for one device. */
  | "several-active"
  /** Status completed or device_returned without an `assignment_end`. */
  | "ended-without-end"
  /** Status `active` with an `assignment_end`. */
  | "active-with-end"
  /** The row's period runs past the start of the device's next row. */
  | "overlap"
  /** Fine itself, but another row of the same device is refused: a device's history is imported whole. */
  | "device-refused"
  /** The device already has newer events in MeDUSA Link than this history (found when importing). */
  | "rejected";

/**
 * The rules an operator may choose (`--resolve kind=rule`), each for one kind
 * of inconsistency; without one, rows of that kind are refused.
 */
export interface Resolutions {
  /** An "active" row followed by another row ends where the next one starts. */
  readonly "several-active"?: "end-at-next";
  /** A row overlapping the next ends where the next one starts. */
  readonly overlap?: "end-at-next";
  /** An ended row without an end ends where the next one starts (the last one stays refused). */
  readonly "ended-without-end"?: "end-at-next";
  /** An "active" row with an end is taken as completed at that end. */
  readonly "active-with-end"?: "keep-end";
}
export const RESOLUTIONS: { readonly [K in keyof Resolutions]-?: ReadonlyArray<Resolutions[K]> } = {
  "several-active": ["end-at-next"],
  overlap: ["end-at-next"],
  "ended-without-end": ["end-at-next"],
  "active-with-end": ["keep-end"],
};

/**
 * One entry of a corrections file: the row it corrects (by its key as the
 * table has it) and either `skip` (not imported) or the fields to `set`
 * (`assignment_end: null` removes the end). `reason` is kept with the event.
 */
export const RowCorrection = Schema.Struct({
  device_id: Schema.String,
  assignment_timestamp: Schema.Number,
  skip: Schema.optionalWith(Schema.Literal(true), { exact: true }),
  set: Schema.optionalWith(
    Schema.Struct({
      patient_id: Schema.optionalWith(Schema.String, { exact: true }),
      patient_name: Schema.optionalWith(Schema.String, { exact: true }),
      assignment_timestamp: Schema.optionalWith(Schema.Number, { exact: true }),
      assignment_end: Schema.optionalWith(Schema.NullOr(Schema.Number), { exact: true }),
      status: Schema.optionalWith(Schema.String, { exact: true }),
      notes: Schema.optionalWith(Schema.String, { exact: true }),
    }),
    { exact: true },
  ),
  reason: Schema.optionalWith(Schema.String, { exact: true }),
});
export type RowCorrection = typeof RowCorrection.Type;
export const CorrectionsFile = Schema.Array(RowCorrection);

export interface RowProblem {
  readonly kind: RowProblemKind;
  readonly detail: string;
}

export interface RefusedRow {
  /** `{device_id}@{assignment_timestamp}` as the table has them. */
  readonly row: string;
  readonly item: HistoricalRow;
  readonly problems: ReadonlyArray<RowProblem>;
}

/** One command of the import, with the provenance its events carry. */
export interface ImportStep {
  readonly row: string;
  readonly command: AssignDevice | EndAssignment;
  readonly provenance: ImportProvenance;
}

/** One device's history as commands, oldest first. */
export interface DevicePlan {
  readonly deviceId: DeviceId;
  readonly rows: ReadonlyArray<string>;
  readonly steps: ReadonlyArray<ImportStep>;
}

export interface ImportPlan {
  readonly rowsRead: number;
  readonly devices: ReadonlyArray<DevicePlan>;
  readonly refused: ReadonlyArray<RefusedRow>;
  /** Rows a correction said to skip. */
  readonly skipped: ReadonlyArray<string>;
  /** Corrections that name no row of the table (a typo in the file, most likely). */
  readonly unusedCorrections: ReadonlyArray<string>;
}

export interface PlanOptions {
  /** The historical table's name, for the provenance. */
  readonly table: string;
  /** Who the import's events are recorded by. */
  readonly actor: Actor;
  /** The import's time: the commands' `now`; rows after it are refused. */
  readonly now: EpochMillis;
  readonly resolve?: Resolutions;
  readonly corrections?: ReadonlyArray<RowCorrection>;
}

/** Epoch seconds at or above this (5138 AD) are taken for milliseconds: refused, not converted. */
export const MAX_EPOCH_SECONDS = 1e11;

const STATUSES = ["active", "completed", "device_returned"] as const;
type Status = (typeof STATUSES)[number];

/** A row's key as the table has it. */
export const rowKey = (deviceId: unknown, assignmentTimestamp: unknown): string =>
  `${String(deviceId)}@${String(assignmentTimestamp)}`;

/** A row decoded: times in milliseconds. */
interface Decoded {
  readonly row: string;
  readonly item: HistoricalRow;
  readonly correction: RowCorrection | undefined;
  readonly deviceId: DeviceId;
  readonly patientId: PatientId;
  readonly patientName: string | undefined;
  readonly notes: string | undefined;
  readonly start: EpochMillis;
  end: EpochMillis | null;
  status: Status;
  readonly problems: Array<RowProblem>;
  readonly resolutions: Array<string>;
}

const decodeDevice = Schema.decodeUnknownEither(DeviceId);
const decodePatient = Schema.decodeUnknownEither(PatientId);
const isName = Schema.is(PatientName);
const isNotes = Schema.is(Notes);

/** Epoch seconds (a whole or fractional number) as milliseconds, or why not. */
const millisOf = (
  field: string,
  value: unknown,
  problems: Array<RowProblem>,
): EpochMillis | undefined => {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    problems.push({
      kind: "malformed",
      detail: `${field} is ${JSON.stringify(value) ?? "missing"}, not epoch seconds`,
    });
    return undefined;
  }
  if (value >= MAX_EPOCH_SECONDS) {
    problems.push({
      kind: "not-seconds",
      detail: `${field} ${value} is too large for epoch seconds (milliseconds?)`,
    });
    return undefined;
  }
  return Math.round(value * 1000) as EpochMillis;
};

const decodeRow = (
  item: HistoricalRow,
  correction: RowCorrection | undefined,
  now: EpochMillis,
): { readonly deviceId: DeviceId | undefined; readonly decoded: Decoded } => {
  const fields: Record<string, unknown> = { ...item, ...(correction?.set ?? {}) };
  const problems: Array<RowProblem> = [];
  const device = decodeDevice(fields.device_id);
  if (Either.isLeft(device))
    problems.push({ kind: "malformed", detail: "device_id is not a device id" });
  const patient = decodePatient(fields.patient_id);
  if (Either.isLeft(patient))
    problems.push({ kind: "malformed", detail: "patient_id is not a patient id" });
  const name = fields.patient_name;
  if (name !== undefined && name !== null && !isName(name))
    problems.push({ kind: "malformed", detail: "patient_name is not text of 500 characters" });
  const notes = fields.notes;
  if (notes !== undefined && notes !== null && !isNotes(notes))
    problems.push({ kind: "malformed", detail: "notes are not text of 2,000 characters" });
  const start = millisOf("assignment_timestamp", fields.assignment_timestamp, problems);
  const rawEnd = fields.assignment_end;
  const end =
    rawEnd === undefined || rawEnd === null
      ? null
      : (millisOf("assignment_end", rawEnd, problems) ?? null);
  const status = fields.status;
  if (!STATUSES.includes(status as Status))
    problems.push({
      kind: "unknown-status",
      detail:
        status === undefined
          ? "no status"
          : `status ${JSON.stringify(status)} is none of ${STATUSES.join(", ")}`,
    });
  if (start !== undefined && end !== null && end <= start)
    problems.push({
      kind: "end-before-start",
      detail: `assignment_end ${String(rawEnd)} is not after assignment_timestamp ${String(fields.assignment_timestamp)}`,
    });
  if ((start !== undefined && start > now) || (end !== null && end > now))
    problems.push({ kind: "in-future", detail: "a time after the import's own" });
  const deviceId = Either.isRight(device) ? device.right : undefined;
  return {
    deviceId,
    decoded: {
      row: rowKey(item.device_id, item.assignment_timestamp),
      item,
      correction,
      deviceId: deviceId as DeviceId,
      patientId: (Either.isRight(patient) ? patient.right : "") as PatientId,
      patientName: typeof name === "string" && name !== "" ? name : undefined,
      notes: typeof notes === "string" && notes !== "" ? notes : undefined,
      start: (start ?? 0) as EpochMillis,
      end,
      status: status as Status,
      problems,
      resolutions: [],
    },
  };
};

/**
 * The inconsistencies between one device's rows (in start order), resolved
 * where the operator chose a rule, reported on the row otherwise.
 */
const checkHistory = (rows: ReadonlyArray<Decoded>, resolve: Resolutions): void => {
  rows.forEach((r, i) => {
    if (r.problems.length > 0) return;
    const next = rows[i + 1];
    const endAtNext = (kind: "several-active" | "overlap" | "ended-without-end") => {
      if (resolve[kind] === "end-at-next" && next !== undefined) {
        r.end = next.start;
        r.resolutions.push(`${kind}=end-at-next`);
        return true;
      }
      return false;
    };
    if (r.status === "active" && r.end !== null) {
      if (resolve["active-with-end"] === "keep-end") {
        r.status = "completed";
        r.resolutions.push("active-with-end=keep-end");
      } else
        r.problems.push({
          kind: "active-with-end",
          detail: "status active, but the row has an assignment_end",
        });
    }
    if (r.status === "active" && r.end === null && next !== undefined) {
      if (!endAtNext("several-active"))
        r.problems.push({
          kind: "several-active",
          detail: `status active, but the device has a later row (${next.row}${next.status === "active" ? ", active too" : ""})`,
        });
    } else if (r.status !== "active" && r.end === null) {
      if (!endAtNext("ended-without-end"))
        r.problems.push({
          kind: "ended-without-end",
          detail: `status ${r.status} without an assignment_end${next === undefined ? " (and no later row to end it at)" : ""}`,
        });
    }
    if (r.end !== null && next !== undefined && r.end > next.start) {
      if (!endAtNext("overlap"))
        r.problems.push({
          kind: "overlap",
          detail: `runs to ${new Date(r.end).toISOString()}, past the start of ${next.row} (${new Date(next.start).toISOString()})`,
        });
    }
  });
};

const commandIdOf = (row: string, what: "assign" | "end"): CommandId =>
  `import:${row}:${what}` as CommandId;

/**
 * The historical rows as one plan: each device's history, oldest first, as
 * assign and end commands recorded by `actor` (each event carrying its row as
 * provenance), and every row that cannot be imported with its reasons. A
 * device with a refused row is refused whole: its history is imported in
 * time order or not at all, so it can be imported once the operator has
 * chosen (the event log takes no event dated before its last).
 */
export const planImport = (
  items: ReadonlyArray<HistoricalRow>,
  options: PlanOptions,
): ImportPlan => {
  const corrections = new Map<string, RowCorrection>();
  for (const c of options.corrections ?? [])
    corrections.set(rowKey(c.device_id, c.assignment_timestamp), c);
  const used = new Set<string>();
  const skipped: Array<string> = [];
  const refused: Array<RefusedRow> = [];
  const byDevice = new Map<DeviceId, Array<Decoded>>();
  for (const item of items) {
    const key = rowKey(item.device_id, item.assignment_timestamp);
    const correction = corrections.get(key);
    if (correction !== undefined) used.add(key);
    if (correction?.skip === true) {
      skipped.push(key);
      continue;
    }
    const { deviceId, decoded } = decodeRow(item, correction, options.now);
    if (deviceId === undefined) {
      refused.push({ row: key, item, problems: decoded.problems });
      continue;
    }
    const rows = byDevice.get(deviceId) ?? [];
    rows.push(decoded);
    byDevice.set(deviceId, rows);
  }
  const devices: Array<DevicePlan> = [];
  for (const [deviceId, rows] of [...byDevice].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    rows.sort((a, b) => a.start - b.start || (a.row < b.row ? -1 : 1));
    checkHistory(
      rows.filter((r) => r.problems.length === 0),
      options.resolve ?? {},
    );
    const bad = rows.filter((r) => r.problems.length > 0);
    if (bad.length > 0) {
      for (const r of rows)
        refused.push({
          row: r.row,
          item: r.item,
          problems:
            r.problems.length > 0
              ? r.problems
              : [
                  {
                    kind: "device-refused",
                    detail: `the device's rows ${bad.map((b) => b.row).join(", ")} are refused`,
                  },
                ],
        });
      continue;
    }
    devices.push({
      deviceId,
      rows: rows.map((r) => r.row),
      steps: rows.flatMap((r) => stepsOf(r, options)),
    });
  }
  return {
    rowsRead: items.length,
    devices,
    refused,
    skipped,
    unusedCorrections: [...corrections.keys()].filter((k) => !used.has(k)),
  };
};

const stepsOf = (r: Decoded, options: PlanOptions): ReadonlyArray<ImportStep> => {
  const provenance: ImportProvenance = {
    source: "import",
    table: options.table,
    row: r.row,
    item: JSON.stringify(r.item),
    ...(r.correction !== undefined ? { correction: JSON.stringify(r.correction) } : {}),
    ...(r.resolutions.length > 0 ? { resolutions: [...r.resolutions] } : {}),
  };
  const common = { deviceId: r.deviceId, actor: options.actor, now: options.now };
  const assign: ImportStep = {
    row: r.row,
    provenance,
    command: {
      _tag: "AssignDevice",
      ...common,
      commandId: commandIdOf(r.row, "assign"),
      at: r.start,
      patientId: r.patientId,
      ...(r.patientName !== undefined ? { patientName: r.patientName } : {}),
      ...(r.notes !== undefined ? { notes: r.notes } : {}),
    },
  };
  if (r.end === null) return [assign];
  const reason: EndReason = r.status === "device_returned" ? "device_returned" : "completed";
  return [
    assign,
    {
      row: r.row,
      provenance,
      command: {
        _tag: "EndAssignment",
        ...common,
        commandId: commandIdOf(r.row, "end"),
        at: r.end,
        patientId: r.patientId,
        reason,
      },
    },
  ];
};
