import { Either, Schema } from "effect";
import type { DeviceId } from "../ids.js";
import { type ActivityEpoch, INTENSITY_CLASSES, type IntensityClass } from "./epochs.js";

/** A calendar date, `YYYY-MM-DD`. */
export const LocalDate = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}$/, { message: () => "a date is YYYY-MM-DD" }),
  Schema.filter(
    (s) => {
      const [y, m, d] = s.split("-").map(Number) as [number, number, number];
      const t = new Date(Date.UTC(y, m - 1, d));
      return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
    },
    { message: () => "not a calendar date" },
  ),
  Schema.brand("LocalDate"),
);
export type LocalDate = typeof LocalDate.Type;

/** Days a daily summary covers at most. */
export const MAX_DAYS = 366;

/** A time zone the runtime's time zone database does not know. */
export class UnknownTimeZone extends Schema.TaggedError<UnknownTimeZone>()("UnknownTimeZone", {
  timeZone: Schema.String,
}) {
  override get message(): string {
    return `unknown time zone ${JSON.stringify(this.timeZone)} (an IANA name, e.g. Europe/Berlin)`;
  }
}

/** A local calendar day: `[start, end)` in epoch ms (23 or 25 hours on a daylight-saving change). */
export interface LocalDay {
  readonly date: LocalDate;
  readonly start: number;
  readonly end: number;
}

const ymd = (date: string) => date.split("-").map(Number) as [number, number, number];

/** One formatter per zone: making one costs about a millisecond, using one microseconds. */
const formatters = new Map<string, Intl.DateTimeFormat>();
const formatterOf = (timeZone: string): Intl.DateTimeFormat | undefined => {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      return undefined;
    }
    formatters.set(timeZone, f);
  }
  return f;
};

/** The zone's offset from UTC at instant `t`, in ms (local wall time − UTC). */
const offsetAt = (f: Intl.DateTimeFormat, t: number): number => {
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(t))
    if (part.type !== "literal") p[part.type] = Number(part.value);
  const wall = Date.UTC(
    p.year ?? 0,
    (p.month ?? 1) - 1,
    p.day ?? 1,
    p.hour ?? 0,
    p.minute ?? 0,
    p.second ?? 0,
  );
  return wall - Math.floor(t / 1000) * 1000;
};

/**
 * The first instant of the local day whose date is `utcDay`'s: midnight, or
 * the first moment after a gap where a zone skips midnight.
 */
const midnightOf = (f: Intl.DateTimeFormat, utcDay: number): number => {
  let t = utcDay - offsetAt(f, utcDay);
  t = utcDay - offsetAt(f, t);
  // Midnight skipped (a gap at 00:00): the day starts where the wall clock lands on that date.
  if (Math.floor((t + offsetAt(f, t)) / 86_400_000) * 86_400_000 !== utcDay)
    t = utcDay - offsetAt(f, utcDay - 86_400_000 / 2);
  return t;
};

/** The days from `first` to `last` (inclusive) in `timeZone`, each from its local midnight to the next. */
export const localDays = (
  first: LocalDate,
  last: LocalDate,
  timeZone: string,
): Either.Either<ReadonlyArray<LocalDay>, UnknownTimeZone> => {
  const f = formatterOf(timeZone);
  if (!f) return Either.left(new UnknownTimeZone({ timeZone }));
  const [y0, m0, d0] = ymd(first);
  const [y1, m1, d1] = ymd(last);
  const from = Date.UTC(y0, m0 - 1, d0);
  const to = Date.UTC(y1, m1 - 1, d1);
  const days: Array<LocalDay> = [];
  let start = midnightOf(f, from);
  for (let day = from; day <= to; day += 86_400_000) {
    const end = midnightOf(f, day + 86_400_000);
    days.push({ date: new Date(day).toISOString().slice(0, 10) as LocalDate, start, end });
    start = end;
  }
  return Either.right(days);
};

/** One local day of a patient's activity. */
export interface DaySummary {
  readonly date: LocalDate;
  readonly start: number;
  readonly end: number;
  /** Minutes worn: epochs with samples outside non-wear. */
  readonly wearMinutes: number;
  /** Worn minutes per intensity class. */
  readonly minutes: Readonly<Record<IntensityClass, number>>;
  readonly steps: number;
  /** Mean of the worn epochs' ENMO, mg; null when nothing was worn. */
  readonly meanEnmoMg: number | null;
  /** Samples present / expected over the whole day (epochs without samples count as none). */
  readonly coverage: number;
  /** Devices worn that day (at least one worn epoch), sorted. */
  readonly devices: ReadonlyArray<DeviceId>;
}

const better = (a: ActivityEpoch, b: ActivityEpoch) =>
  a.coverage > b.coverage || (a.coverage === b.coverage && a.deviceId < b.deviceId);

/**
 * Per local day, from the epochs of every device (`epochs` by start). Where a
 * patient wore several devices at once, each epoch counts once: the worn
 * device with the best coverage (then the first by id) stands for it; for
 * coverage, the device with the best coverage, worn or not. `devices` lists
 * every device with a worn epoch that day.
 */
export const dailySummaries = (
  days: ReadonlyArray<LocalDay>,
  epochs: ReadonlyArray<ActivityEpoch>,
): ReadonlyArray<DaySummary> => {
  interface Slot {
    worn?: ActivityEpoch;
    any: ActivityEpoch;
    devices: Array<DeviceId>;
  }
  const slots = new Map<number, Slot>();
  for (const e of epochs) {
    let slot = slots.get(e.start);
    if (!slot) {
      slot = { any: e, devices: [] };
      slots.set(e.start, slot);
    } else if (better(e, slot.any)) slot.any = e;
    if (e.wear) {
      slot.devices.push(e.deviceId);
      if (!slot.worn || better(e, slot.worn)) slot.worn = e;
    }
  }
  const starts = [...slots.keys()].sort((a, b) => a - b);
  return days.map((day) => {
    const minutes = Object.fromEntries(INTENSITY_CLASSES.map((c) => [c, 0])) as Record<
      IntensityClass,
      number
    >;
    let wearMs = 0;
    let steps = 0;
    let enmo = 0;
    let worn = 0;
    let coveredMs = 0;
    const devices = new Set<DeviceId>();
    for (const start of starts) {
      if (start < day.start || start >= day.end) continue;
      const slot = slots.get(start) as Slot;
      for (const d of slot.devices) devices.add(d);
      coveredMs += slot.any.coverage * slot.any.epochMs;
      const e = slot.worn;
      if (!e) continue;
      wearMs += e.epochMs;
      if (e.intensity) minutes[e.intensity] += e.epochMs / 60_000;
      steps += e.steps;
      enmo += e.enmoMg;
      worn++;
    }
    return {
      date: day.date,
      start: day.start,
      end: day.end,
      wearMinutes: wearMs / 60_000,
      minutes,
      steps,
      meanEnmoMg: worn > 0 ? enmo / worn : null,
      coverage: coveredMs / (day.end - day.start),
      devices: [...devices].sort(),
    };
  });
};
