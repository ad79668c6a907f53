/**
 * Times in the clinic's time zone. The API speaks epoch milliseconds (UTC);
 * the console shows and reads wall-clock times of the clinic, whatever the
 * zone of the browser that shows them.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();
const formatter = (timeZone: string, options: Intl.DateTimeFormatOptions) => {
  const key = `${timeZone}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { timeZone, ...options });
    formatters.set(key, f);
  }
  return f;
};

/** "29 Nov 2026, 14:05:09 CET": date, time to the second, the zone's short name. */
export const formatTime = (ms: number, timeZone: string): string =>
  formatter(timeZone, {
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).format(ms);

/** The wall-clock parts of an instant in the zone. */
const partsOf = (ms: number, timeZone: string) => {
  const parts = formatter(timeZone, {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  }).formatToParts(ms);
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return {
    year: get("year"),
    month: get("month"),
    day: get("day"),
    hour: get("hour"),
    minute: get("minute"),
    second: get("second"),
  };
};

/** How far the zone's wall clock is ahead of UTC at that instant, in ms. */
export const zoneOffsetMs = (ms: number, timeZone: string): number => {
  const p = partsOf(ms, timeZone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(ms / 1000) * 1000;
};

/** The value of an `<input type="datetime-local">` showing the instant in the zone. */
export const toLocalInput = (ms: number, timeZone: string): string => {
  const p = partsOf(ms, timeZone);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${p.year}-${two(p.month)}-${two(p.day)}T${two(p.hour)}:${two(p.minute)}`;
};

/**
 * The instant an `<input type="datetime-local">` value means as a wall-clock
 * time in the zone; undefined when it is not such a value. A time that the
 * clocks skip (spring forward) is taken as the offset before the change gives.
 */
export const fromLocalInput = (value: string, timeZone: string): number | undefined => {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  const wall = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(s ?? 0),
  );
  // Two rounds settle the offset, across a change of daylight saving time too.
  let at = wall - zoneOffsetMs(wall, timeZone);
  at = wall - zoneOffsetMs(at, timeZone);
  return at;
};

/** "Europe/Berlin (CET)": the zone named as the console shows it. */
export const zoneLabel = (timeZone: string, at = Date.now()): string => {
  const short = formatter(timeZone, { timeZoneName: "short" })
    .formatToParts(at)
    .find((p) => p.type === "timeZoneName")?.value;
  return short && short !== timeZone ? `${timeZone} (${short})` : timeZone;
};

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago": how long before `now`. */
export const ago = (ms: number, now: number): string => {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
};
