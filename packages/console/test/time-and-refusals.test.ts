import { describe, expect, it } from "vitest";
import { explainRefusal } from "../src/refusals.js";
import { formatTime, fromLocalInput, toLocalInput, zoneLabel } from "../src/time.js";

const PROBLEMS = "https://medusa-link.dev/problems/";

describe("times in the clinic's time zone", () => {
  it("shows an instant as the clinic's wall clock, with the zone", () => {
    const at = Date.UTC(2026, 10, 29, 13, 5, 9); // 14:05:09 in Berlin (CET, UTC+1)
    expect(formatTime(at, "Europe/Berlin")).toBe("29 Nov 2026, 14:05:09 CET");
    expect(formatTime(at, "UTC")).toBe("29 Nov 2026, 13:05:09 UTC");
    expect(zoneLabel("Europe/Berlin", at)).toBe("Europe/Berlin (CET)");
  });

  it("reads a typed time as the clinic's, whatever the browser's zone, across daylight saving", () => {
    expect(fromLocalInput("2026-11-29T14:05", "Europe/Berlin")).toBe(Date.UTC(2026, 10, 29, 13, 5));
    expect(fromLocalInput("2026-07-01T14:05", "Europe/Berlin")).toBe(Date.UTC(2026, 6, 1, 12, 5));
    expect(fromLocalInput("2026-07-01T14:05", "America/New_York")).toBe(
      Date.UTC(2026, 6, 1, 18, 5),
    );
    // The night the clocks go back: 02:30 happens twice; either reading is a real instant.
    const twice = fromLocalInput("2026-10-25T02:30", "Europe/Berlin") as number;
    expect(toLocalInput(twice, "Europe/Berlin")).toBe("2026-10-25T02:30");
    expect(fromLocalInput("yesterday", "Europe/Berlin")).toBeUndefined();
    for (const at of [Date.UTC(2026, 0, 1, 0, 0), Date.UTC(2026, 5, 15, 23, 59)])
      expect(fromLocalInput(toLocalInput(at, "Asia/Kolkata"), "Asia/Kolkata")).toBe(at);
  });
});

describe("the API's refusals in plain words, next to their field", () => {
  const zone = "Europe/Berlin";
  it("already assigned: next to the patient, naming the current patient and since when", () => {
    const m = explainRefusal(
      {
        type: `${PROBLEMS}device-already-assigned`,
        title: "Device already assigned",
        status: 409,
        current_patient_id: "P-7",
        assigned_since: Date.UTC(2026, 10, 29, 8, 0),
      },
      zone,
    );
    expect(m.patient_id).toContain(
      "already assigned to patient P-7 (since 29 Nov 2026, 09:00:00 CET)",
    );
  });

  it("times the event log cannot take: next to the time", () => {
    const before = explainRefusal(
      {
        type: `${PROBLEMS}time-before-last-event`,
        title: "",
        status: 422,
        last_event_at: Date.UTC(2026, 10, 29, 8, 0),
      },
      zone,
    );
    expect(before.at).toContain(
      "before the device's last recorded change (29 Nov 2026, 09:00:00 CET)",
    );
    expect(
      explainRefusal({ type: `${PROBLEMS}time-in-future`, title: "", status: 422 }, zone).at,
    ).toContain("in the future");
  });

  it("validation errors: each next to its field; unknown problems about the form", () => {
    const m = explainRefusal(
      {
        type: `${PROBLEMS}validation-error`,
        title: "Invalid request",
        status: 400,
        errors: [
          { path: "patient_id", message: "must be 1–64 characters" },
          { path: "assignment_timestamp", message: "must be an integer" },
        ],
      },
      zone,
    );
    expect(m).toEqual({
      patient_id: "Patient ID must be 1–64 characters.",
      at: "Time must be an integer.",
    });
    expect(
      explainRefusal({ type: `${PROBLEMS}teapot`, title: "I'm a teapot", status: 418 }, zone).form,
    ).toBe("The server refused the request: I'm a teapot.");
  });
});
