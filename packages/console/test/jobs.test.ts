import { describe, expect, it } from "vitest";
import { detailsWords, explainJobRefusal, STATUS_WORDS, statusTone } from "../src/jobs.js";
import { readSettingsForm } from "../src/settings-form.js";

const PROBLEMS = "https://medusa-link.dev/problems/";

describe("a device's jobs in plain words", () => {
  it("the API's refusals of a job, each next to what it concerns", () => {
    // A config.set's settings: next to their fields, as the configuration panel says them.
    expect(
      explainJobRefusal({
        type: `${PROBLEMS}validation-error`,
        title: "Invalid request",
        status: 400,
        errors: [
          {
            path: "settings.sensor.sample_rate_hz",
            message: "sample_rate_hz must be from 1 to 50 Hz, or 100, 200, 400 Hz",
          },
          {
            path: "settings.publish.interval_ms",
            message: "interval_ms must be between 100 and 60000",
          },
        ],
      }),
    ).toEqual({
      sample_rate_hz: "The sample rate must be from 1 to 50 Hz, or 100, 200, 400 Hz.",
      interval_ms: "The interval must be between 100 and 60000.",
    });
    expect(
      explainJobRefusal({
        type: `${PROBLEMS}validation-error`,
        title: "Invalid request",
        status: 400,
        errors: [{ path: "settings", message: "name at least one setting: …" }],
      }),
    ).toEqual({ form: "Enter a new sample rate, a new publish interval, or both." });
    // DeviceJobRejected (422), DeviceNotRegistered (404), DeviceJobsUnavailable (503): above the button.
    expect(
      explainJobRefusal({
        type: `${PROBLEMS}job-refused`,
        title: "The Jobs service refused the job",
        status: 422,
        detail: "the Jobs service refused a job for pi-1: LimitExceededException: too many jobs",
        device_id: "pi-1",
      }),
    ).toEqual({ form: "The Jobs service refused the job: LimitExceededException: too many jobs." });
    expect(
      explainJobRefusal({
        type: `${PROBLEMS}device-not-registered`,
        title: "The device is not a registered thing",
        status: 404,
      }).form,
    ).toMatch(/^This device is not registered with the Jobs service/);
    expect(
      explainJobRefusal({
        type: `${PROBLEMS}jobs-unavailable`,
        title: "The Jobs service is unavailable",
        status: 503,
      }),
    ).toEqual({
      form: "The Jobs service is unavailable. Nothing was started; try again in a moment.",
    });
    expect(
      explainJobRefusal({ type: `${PROBLEMS}forbidden`, title: "Forbidden", status: 403 }).form,
    ).toBe("Your role may read a device's jobs but not start one.");
    expect(
      explainJobRefusal({
        type: "urn:medusa-console/network-error",
        title: "No answer",
        status: 0,
      }).form,
    ).toMatch(/may or may not have been queued/);
  });

  it("statuses, their tone, and what the device said: the reason first, settings in the forms' words", () => {
    expect(Object.keys(STATUS_WORDS)).toHaveLength(8);
    expect(statusTone("SUCCEEDED")).toBe("free");
    expect(statusTone("QUEUED")).toBe("pending");
    expect(statusTone("IN_PROGRESS")).toBe("pending");
    for (const s of ["FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"] as const)
      expect(statusTone(s)).toBe("offline");
    expect(
      detailsWords({
        applied: "publishIntervalMs",
        refused: "sensor.sample_rate_hz: the sensor cannot run at 3 Hz",
        reason: "1 setting(s) refused",
      }),
    ).toEqual([
      { label: "Reason", value: "1 setting(s) refused" },
      { label: "Applied", value: "publish interval" },
      { label: "Refused", value: "sample rate: the sensor cannot run at 3 Hz" },
    ]);
    expect(detailsWords({ held: "3", published: "3", odd_key: "x" })).toEqual([
      { label: "Batches held", value: "3" },
      { label: "Batches sent", value: "3" },
      { label: "odd_key", value: "x" },
    ]);
  });

  it("the settings form's rules (shared with the configuration panel)", () => {
    expect(readSettingsForm("25", "")).toEqual({ settings: { sensor: { sample_rate_hz: 25 } } });
    expect(readSettingsForm(" ", "2000")).toEqual({ settings: { publish: { interval_ms: 2000 } } });
    expect(readSettingsForm("", "")).toEqual({
      messages: { form: "Enter a new sample rate, a new publish interval, or both." },
    });
    expect(readSettingsForm("12.5", "soon")).toEqual({
      messages: {
        sample_rate_hz: "The sample rate is a whole number of samples a second.",
        interval_ms: "The interval is a whole number of milliseconds.",
      },
    });
  });
});
