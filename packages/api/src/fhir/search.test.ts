import { Either } from "effect";
import { describe, expect, it } from "vitest";
import { ProblemError } from "../problems.js";
import { MEDUSA_CODES } from "./codes.js";
import {
  dateRange,
  deviceUseSearch,
  MAX_COUNT,
  observationSearch,
  type SearchQuery,
} from "./search.js";

const at = (iso: string) => Date.parse(iso);

/** The failing parameters of a refused search, or the search. */
const refused = (f: () => unknown): ReadonlyArray<string> => {
  try {
    f();
  } catch (e) {
    if (e instanceof ProblemError)
      return (e.problem.errors as Array<{ path: string }>).map((x) => x.path);
    throw e;
  }
  return [];
};

describe("date search values", () => {
  it("each precision covers its whole span, in UTC or the value's zone", () => {
    const cases: ReadonlyArray<[string, string, string]> = [
      ["2025", "2025-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z"],
      ["2025-02", "2025-02-01T00:00:00.000Z", "2025-03-01T00:00:00.000Z"],
      ["2024-02-29", "2024-02-29T00:00:00.000Z", "2024-03-01T00:00:00.000Z"],
      ["2025-11-20T08:30:00Z", "2025-11-20T08:30:00.000Z", "2025-11-20T08:30:01.000Z"],
      ["2025-11-20T08:30:00.5Z", "2025-11-20T08:30:00.500Z", "2025-11-20T08:30:00.600Z"],
      ["2025-11-20T08:30:00.123Z", "2025-11-20T08:30:00.123Z", "2025-11-20T08:30:00.124Z"],
      ["2025-11-20T09:30:00+01:00", "2025-11-20T08:30:00.000Z", "2025-11-20T08:30:01.000Z"],
      ["2025-11-20T03:00:00-05:30", "2025-11-20T08:30:00.000Z", "2025-11-20T08:30:01.000Z"],
    ];
    for (const [value, lo, hi] of cases)
      expect([value, dateRange(value)]).toEqual([
        value,
        Either.right({ prefix: "eq", lo: at(lo), hi: at(hi) }),
      ]);
    expect(dateRange("ge2025")).toEqual(
      Either.right({
        prefix: "ge",
        lo: at("2025-01-01T00:00:00Z"),
        hi: at("2026-01-01T00:00:00Z"),
      }),
    );
  });

  it("refuses what is no date, a time without its zone, other prefixes, and dates before 1970", () => {
    for (const value of [
      "",
      "yesterday",
      "2025-13",
      "2025-02-29",
      "2025-11-20T08:30Z",
      "2025-11-20T08:30:00",
      "2025-11-20T24:00:00Z",
      "2025-11-20T08:30:00.1234Z",
      "2025-11-20T08:30:00+15:00",
      "ne2025",
      "sa2025",
      "1969-12-31",
      "0080",
      "1763625600000",
    ])
      expect([value, Either.isLeft(dateRange(value))]).toEqual([value, true]);
  });
});

describe("Observation search", () => {
  const q = (query: Record<string, string | Array<string>>): SearchQuery =>
    Object.fromEntries(Object.entries(query).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

  it("a patient and a range from ge/gt to lt/le, as FHIR bounds dates", () => {
    expect(
      observationSearch(
        q({ patient: "Patient/P-1", date: ["ge2025-11-20T08:00:00Z", "lt2025-11-20T09:00:00Z"] }),
      ),
    ).toEqual({
      patientId: "P-1",
      range: { start: at("2025-11-20T08:00:00Z"), end: at("2025-11-20T09:00:00Z") },
      kinds: { samples: true, activity: true },
      page: { count: 100 },
    });
    // gt: after the value's span; le: to the end of it; no prefix: the span itself.
    expect(
      observationSearch(q({ patient: "P-1", date: ["gt2025-11-20", "le2025-11-21"] })).range,
    ).toEqual({
      start: at("2025-11-21T00:00:00Z"),
      end: at("2025-11-22T00:00:00Z"),
    });
    expect(
      observationSearch(q({ patient: "P-1", date: "2025-11-20", _count: "5", _cursor: "c" })),
    ).toEqual({
      patientId: "P-1",
      range: { start: at("2025-11-20T00:00:00Z"), end: at("2025-11-21T00:00:00Z") },
      kinds: { samples: true, activity: true },
      page: { count: 5, cursor: "c" },
    });
  });

  it("code selects runs of samples, activity epochs or both, bare or with this project's system", () => {
    const kinds = (code: string) =>
      observationSearch(q({ patient: "P-1", date: "2025", code })).kinds;
    expect(kinds("triaxial-acceleration")).toEqual({ samples: true, activity: false });
    expect(kinds(`${MEDUSA_CODES}|activity-epoch`)).toEqual({ samples: false, activity: true });
    expect(kinds("activity-epoch,triaxial-acceleration")).toEqual({
      samples: true,
      activity: true,
    });
  });

  it("400 naming every bad parameter: missing, repeated, unknown, out of range, an empty range", () => {
    expect(refused(() => observationSearch(q({})))).toEqual(["patient", "date"]);
    expect(refused(() => observationSearch(q({ patient: "P-1", date: "ge2025-11-20" })))).toEqual([
      "date",
    ]);
    expect(
      refused(() =>
        observationSearch(q({ patient: ["P-1", "P-2"], date: ["ge2025", "ge2024", "lt2026"] })),
      ),
    ).toEqual(["patient", "date"]);
    expect(
      refused(() =>
        observationSearch(q({ patient: "P-1", date: ["ge2025-11-21", "lt2025-11-20"] })),
      ),
    ).toEqual(["date"]);
    expect(
      refused(() => observationSearch(q({ patient: "P-1", date: "2025", _count: "0" }))),
    ).toEqual(["_count"]);
    expect(
      refused(() =>
        observationSearch(q({ patient: "P-1", date: "2025", _count: String(MAX_COUNT + 1) })),
      ),
    ).toEqual(["_count"]);
    expect(
      refused(() =>
        observationSearch(q({ patient: "P-1", date: "2025", code: "x", _sort: "date" })),
      ),
    ).toEqual(["_sort"]);
    for (const code of [
      "x",
      "activity-epoch,steps",
      "http://loinc.org|activity-epoch",
      "triaxial-acceleration|",
    ])
      expect([
        code,
        refused(() => observationSearch(q({ patient: "P-1", date: "2025", code }))),
      ]).toEqual([code, ["code"]]);
    expect(
      refused(() =>
        observationSearch(q({ patient: "P-1", date: "2025", code: ["activity-epoch", "x"] })),
      ),
    ).toEqual(["code"]);
    // A patient id FHIR cannot carry (a control character) is refused, never altered.
    expect(refused(() => observationSearch(q({ patient: "P\u0007", date: "2025" })))).toEqual([
      "patient",
    ]);
    expect(refused(() => observationSearch(q({ patient: " P-1", date: "2025" })))).toEqual([
      "patient",
    ]);
  });
});

describe("DeviceUseStatement search", () => {
  it("a patient, bare or as Patient/{id}; _count and _cursor; nothing else", () => {
    expect(deviceUseSearch({ patient: ["MRN 0042"] })).toEqual({
      patientId: "MRN 0042",
      page: { count: 100 },
    });
    expect(deviceUseSearch({ patient: ["Patient/P-1"], _count: ["1"], _format: ["json"] })).toEqual(
      {
        patientId: "P-1",
        page: { count: 1 },
      },
    );
    expect(refused(() => deviceUseSearch({ patient: ["P-1"], date: ["2025"] }))).toEqual(["date"]);
    expect(refused(() => deviceUseSearch({ patient: [""] }))).toEqual(["patient"]);
  });
});
