import { ACTIVITY_ALGORITHMS } from "@medusa/domain";
import { type Options, stringify } from "csv-stringify/sync";

/**
 * How a cell is written: a list as its items separated by spaces, anything
 * else as its text; a cell holding a comma, quote or line break is quoted,
 * its quotes doubled.
 */
const CSV_OPTIONS: Options = {
  header: true,
  record_delimiter: "\r\n",
  // csv-stringify quotes a cell holding the record delimiter; a lone CR or LF too.
  quoted_match: /[\n\r]/,
  cast: {
    boolean: (v) => String(v),
    date: (v) => String(v),
    object: (v) => (Array.isArray(v) ? v.join(" ") : String(v)),
  },
};

/** The `#` lines: what the file holds, then the algorithms' versions. */
const aboutLines = (about: ReadonlyArray<string>): string =>
  [
    ...about.map((line) => `# ${line}`),
    ...Object.entries(ACTIVITY_ALGORITHMS).map(([k, v]) => `# algorithm ${k}: ${v}`),
  ]
    .map((line) => `${line}\r\n`)
    .join("");

/**
 * CSV for researchers: `#` lines first naming the patient, the units, the
 * cut-points and the algorithms' versions, then one header row and a row per
 * record.
 */
export const activityCsv = (
  about: ReadonlyArray<string>,
  rows: ReadonlyArray<Record<string, unknown>>,
  columns: ReadonlyArray<string>,
): string => aboutLines(about) + stringify([...rows], { ...CSV_OPTIONS, columns: [...columns] });

/** One record as a CSV row, its CRLF included (for a page that counts its bytes row by row). */
export const activityCsvRow = (
  record: Record<string, unknown>,
  columns: ReadonlyArray<string>,
): string => stringify([record], { ...CSV_OPTIONS, header: false, columns: [...columns] });

/** `activityCsv` of rows already written by `activityCsvRow`. */
export const activityCsvOfRows = (
  about: ReadonlyArray<string>,
  rows: ReadonlyArray<string>,
  columns: ReadonlyArray<string>,
): string =>
  aboutLines(about) + stringify([], { ...CSV_OPTIONS, columns: [...columns] }) + rows.join("");
