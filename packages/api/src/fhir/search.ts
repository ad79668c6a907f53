import { PatientId } from "@medusa/domain";
import { Either, Schema } from "effect";
import { ProblemError, problem } from "../problems.js";
import { ACTIVITY_EPOCH, MEDUSA_CODES, TRIAXIAL_ACCELERATION } from "./codes.js";
import { isFhirString } from "./ids.js";

/** A request's query parameters, every value of each (`c.req.queries()`). */
export type SearchQuery = Readonly<Record<string, ReadonlyArray<string>>>;

export const DEFAULT_COUNT = 100;
export const MAX_COUNT = 1_000;

/** What every FHIR route takes besides its own parameters (`_format` is checked before the route). */
const COMMON = ["_format"];

interface Issue {
  readonly path: string;
  readonly message: string;
}

/** A 400 listing every failing parameter, as the other routes' validation errors do. */
const refuse = (issues: ReadonlyArray<Issue>): never => {
  const first = issues[0];
  throw new ProblemError(
    problem(400, "validation-error", "Invalid search", {
      detail: first ? `invalid search: ${first.path}: ${first.message}` : "invalid search",
      errors: issues,
    }),
  );
};

/** Refuses parameters the route does not take, naming them (FHIR's strict handling). */
export const onlyParameters = (query: SearchQuery, names: ReadonlyArray<string>): void => {
  const issues = Object.keys(query)
    .filter((name) => !names.includes(name) && !COMMON.includes(name))
    .map((path) => ({ path, message: `is not a search parameter here (${names.join(", ")})` }));
  if (issues.length > 0) refuse(issues);
};

const one = (query: SearchQuery, name: string, issues: Array<Issue>): string | undefined => {
  const values = query[name] ?? [];
  if (values.length > 1) issues.push({ path: name, message: "is given more than once" });
  return values[0];
};

const decodePatient = Schema.decodeUnknownEither(PatientId);

/** `patient`: the clinic's id, bare or as `Patient/{id}`. */
const patientOf = (query: SearchQuery, issues: Array<Issue>): PatientId | undefined => {
  const raw = one(query, "patient", issues);
  if (raw === undefined) {
    issues.push({ path: "patient", message: "is required (patient=Patient/{id} or patient={id})" });
    return undefined;
  }
  const r = decodePatient(raw.startsWith("Patient/") ? raw.slice("Patient/".length) : raw);
  if (Either.isLeft(r)) {
    issues.push({ path: "patient", message: "is not a patient id" });
    return undefined;
  }
  if (!isFhirString(r.right)) {
    issues.push({
      path: "patient",
      message: "holds characters no FHIR string can (control characters): not exported",
    });
    return undefined;
  }
  return r.right;
};

const countOf = (query: SearchQuery, issues: Array<Issue>): number => {
  const raw = one(query, "_count", issues);
  if (raw === undefined) return DEFAULT_COUNT;
  const n = /^[0-9]{1,7}$/.test(raw) ? Number(raw) : Number.NaN;
  if (n >= 1 && n <= MAX_COUNT) return n;
  issues.push({ path: "_count", message: `must be a whole number from 1 to ${MAX_COUNT}` });
  return DEFAULT_COUNT;
};

export interface PageParameters {
  readonly count: number;
  readonly cursor?: string;
}

const pageOf = (query: SearchQuery, issues: Array<Issue>): PageParameters => {
  const count = countOf(query, issues);
  const cursor = one(query, "_cursor", issues);
  return cursor === undefined ? { count } : { count, cursor };
};

const DATE =
  /^(ge|gt|le|lt|eq)?([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2})(?:T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,3}))?(Z|[+-][0-9]{2}:[0-9]{2}))?)?)?$/;
const DAY_MS = 86_400_000;

/**
 * A `date` value as the instants it covers, `[lo, hi)` in epoch
 * milliseconds: a year, a month, a day (UTC) or a time to the second or to
 * the millisecond (a time needs its zone, `Z` or `±hh:mm`).
 */
export const dateRange = (
  value: string,
): Either.Either<{ readonly prefix: string; readonly lo: number; readonly hi: number }, string> => {
  const m = DATE.exec(value);
  if (!m)
    return Either.left(
      "must be a FHIR date or dateTime with a zone, after ge, gt, le, lt or eq (e.g. ge2025-11-20T08:00:00Z)",
    );
  const [, prefix = "eq", y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  const [hour, minute, second] = [Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0)];
  const lo0 = Date.UTC(
    year,
    month - 1,
    day,
    hour,
    minute,
    second,
    Number((frac ?? "").padEnd(3, "0")),
  );
  const shown = new Date(lo0);
  if (
    year < 1970 ||
    month < 1 ||
    month > 12 ||
    shown.getUTCDate() !== day ||
    shown.getUTCMonth() !== month - 1 ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    return Either.left("is not a date after 1970");
  let offset = 0;
  if (zone !== undefined && zone !== "Z") {
    const [zh, zm] = zone.slice(1).split(":").map(Number) as [number, number];
    if (zh > 14 || zm > 59) return Either.left("has a zone offset out of range");
    offset = (zone.startsWith("-") ? -1 : 1) * (zh * 60 + zm) * 60_000;
  }
  const lo = lo0 - offset;
  const hi =
    mo === undefined
      ? Date.UTC(year + 1, 0, 1)
      : d === undefined
        ? Date.UTC(year, month, 1)
        : h === undefined
          ? lo + DAY_MS
          : lo + 10 ** (3 - (frac ?? "").length);
  if (lo < 0) return Either.left("is not a date after 1970");
  return Either.right({ prefix, lo, hi });
};

/**
 * `date` values as one range `[start, end)`: a lower bound (`ge`, `gt`) and
 * an upper bound (`lt`, `le`), or one value without a prefix (or `eq`) that
 * is both. Each bound is the start or end of the value's precision, as FHIR
 * searches dates: `ge2025-11-20` is from the day's start, `le2025-11-20` to
 * its end.
 */
const rangeOf = (
  query: SearchQuery,
  issues: Array<Issue>,
): { readonly start: number; readonly end: number } | undefined => {
  let start: number | undefined;
  let end: number | undefined;
  const before = issues.length;
  for (const value of query.date ?? []) {
    const r = dateRange(value);
    if (Either.isLeft(r)) {
      issues.push({ path: "date", message: `${value} ${r.left}` });
      continue;
    }
    const { prefix, lo, hi } = r.right;
    const lower = prefix === "ge" || prefix === "eq" ? lo : prefix === "gt" ? hi : undefined;
    const upper = prefix === "lt" ? lo : prefix === "le" || prefix === "eq" ? hi : undefined;
    if ((lower !== undefined && start !== undefined) || (upper !== undefined && end !== undefined))
      issues.push({ path: "date", message: "takes one lower and one upper bound" });
    if (lower !== undefined) start = lower;
    if (upper !== undefined) end = upper;
  }
  if (issues.length > before) return undefined;
  if (start === undefined || end === undefined) {
    issues.push({
      path: "date",
      message:
        "needs a lower and an upper bound (e.g. date=ge2025-11-20T00:00:00Z&date=lt2025-11-21T00:00:00Z)",
    });
    return undefined;
  }
  if (end <= start) {
    issues.push({
      path: "date",
      message: "is an empty range: the upper bound is not after the lower",
    });
    return undefined;
  }
  return { start, end };
};

/** `DeviceUseStatement?patient=…[&_count][&_cursor]`. */
export const deviceUseSearch = (
  query: SearchQuery,
): { readonly patientId: PatientId; readonly page: PageParameters } => {
  onlyParameters(query, ["patient", "_count", "_cursor"]);
  const issues: Array<Issue> = [];
  const patientId = patientOf(query, issues);
  const page = pageOf(query, issues);
  if (issues.length > 0 || patientId === undefined) return refuse(issues);
  return { patientId, page };
};

/** What an Observation search returns: runs of samples, activity epochs, or both. */
export interface ObservationKinds {
  readonly samples: boolean;
  readonly activity: boolean;
}

const CODE_KINDS: Readonly<Record<string, keyof ObservationKinds>> = {
  [TRIAXIAL_ACCELERATION.code]: "samples",
  [ACTIVITY_EPOCH.code]: "activity",
};

/**
 * `code`: `triaxial-acceleration`, `activity-epoch` or both (comma: FHIR's
 * "or"), each bare or as `system|code` with this project's code system.
 * Without it, both.
 */
const kindsOf = (query: SearchQuery, issues: Array<Issue>): ObservationKinds => {
  const raw = one(query, "code", issues);
  if (raw === undefined) return { samples: true, activity: true };
  const kinds = { samples: false, activity: false };
  for (const token of raw.split(",")) {
    const bar = token.lastIndexOf("|");
    const system = bar < 0 ? undefined : token.slice(0, bar);
    const kind = CODE_KINDS[bar < 0 ? token : token.slice(bar + 1)];
    if (kind === undefined || (system !== undefined && system !== MEDUSA_CODES)) {
      issues.push({
        path: "code",
        message: `${token} is not a code exported here (${MEDUSA_CODES}|${TRIAXIAL_ACCELERATION.code} or |${ACTIVITY_EPOCH.code}, the system optional)`,
      });
      continue;
    }
    kinds[kind] = true;
  }
  return kinds;
};

/** `Observation?patient=…&date=ge…&date=lt…[&code][&_count][&_cursor]`. */
export const observationSearch = (
  query: SearchQuery,
): {
  readonly patientId: PatientId;
  readonly range: { readonly start: number; readonly end: number };
  readonly kinds: ObservationKinds;
  readonly page: PageParameters;
} => {
  onlyParameters(query, ["patient", "date", "code", "_count", "_cursor"]);
  const issues: Array<Issue> = [];
  const patientId = patientOf(query, issues);
  const range = rangeOf(query, issues);
  const kinds = kindsOf(query, issues);
  const page = pageOf(query, issues);
  if (issues.length > 0 || patientId === undefined || range === undefined) return refuse(issues);
  return { patientId, range, kinds, page };
};
