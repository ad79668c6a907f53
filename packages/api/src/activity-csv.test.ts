import { ACTIVITY_ALGORITHMS } from "@medusa/domain";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { activityCsv, activityCsvOfRows, activityCsvRow } from "./activity-csv.js";

/** The hand-written writer csv-stringify replaced: its output is the format researchers rely on. */
const handWritten = (
  about: ReadonlyArray<string>,
  rows: ReadonlyArray<Record<string, unknown>>,
  columns: ReadonlyArray<string>,
): string => {
  const cell = (v: unknown): string => {
    const text = v === null || v === undefined ? "" : Array.isArray(v) ? v.join(" ") : String(v);
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return `${[
    ...about.map((line) => `# ${line}`),
    ...Object.entries(ACTIVITY_ALGORITHMS).map(([k, v]) => `# algorithm ${k}: ${v}`),
    columns.join(","),
    ...rows.map((r) => columns.map((k) => cell(r[k])).join(",")),
  ].join("\r\n")}\r\n`;
};

const COLUMNS = ["time", "device_id", "enmo_mg", "wear", "intensity", "devices"];
const text = fc.string({
  unit: fc.constantFrom("a", "Z", "0", " ", ",", '"', "\n", "\r", ";", "é"),
});
const value = fc.oneof(
  text,
  fc.double({ noNaN: false }),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.oneof(text, fc.integer())),
);

describe("activity CSV", () => {
  it("writes `#` lines, the header and a CRLF row per record, cells quoted where they must be", () => {
    const csv = activityCsv(
      ["patient p1; epochs", 'intensity cut-points "hip" (ENMO, mg; hip): light >= 47.4'],
      [
        {
          time: 1,
          device_id: "d1",
          enmo_mg: 12.5,
          wear: true,
          intensity: "light",
          devices: ["d1", "d2"],
        },
        { time: 2, device_id: 'a,"b"', enmo_mg: null, wear: false, devices: [] },
        { time: 3, device_id: "line\nbreak", intensity: "cr\ronly" },
      ],
      COLUMNS,
    );
    const algorithms = Object.entries(ACTIVITY_ALGORITHMS)
      .map(([k, v]) => `# algorithm ${k}: ${v}\r\n`)
      .join("");
    expect(csv).toBe(
      "# patient p1; epochs\r\n" +
        '# intensity cut-points "hip" (ENMO, mg; hip): light >= 47.4\r\n' +
        algorithms +
        "time,device_id,enmo_mg,wear,intensity,devices\r\n" +
        "1,d1,12.5,true,light,d1 d2\r\n" +
        '2,"a,""b""",,false,,\r\n' +
        '3,"line\nbreak",,,"cr\ronly",\r\n',
    );
  });

  it("is byte for byte what the hand-written writer gave, for any rows", () => {
    fc.assert(
      fc.property(
        fc.array(text),
        fc.array(fc.dictionary(fc.constantFrom(...COLUMNS), value)),
        (about, rows) => {
          expect(activityCsv(about, rows, COLUMNS)).toBe(handWritten(about, rows, COLUMNS));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("gives the same file when the rows are written one by one (a page counting its bytes)", () => {
    fc.assert(
      fc.property(
        fc.array(text),
        fc.array(fc.dictionary(fc.constantFrom(...COLUMNS), value)),
        (about, rows) => {
          const one = rows.map((r) => activityCsvRow(r, COLUMNS));
          expect(activityCsvOfRows(about, one, COLUMNS)).toBe(activityCsv(about, rows, COLUMNS));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("gives the header alone when there are no records", () => {
    expect(
      activityCsv([], [], COLUMNS).endsWith(
        "\r\ntime,device_id,enmo_mg,wear,intensity,devices\r\n",
      ),
    ).toBe(true);
  });
});
