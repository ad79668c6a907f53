import { ACTIVITY_ALGORITHMS, type ActivityEpoch, DeviceId } from "@medusa/domain";
import { Arbitrary, Schema } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ACTIVITY_PAGE_BYTES, activityPageJson, epochView } from "./activity-json.js";
import {
  ACTIVITY_MAX_PAGE,
  ActivityEpochView,
  ActivityResponse,
  CutPointsView,
} from "./schemas.js";

const toEpoch = ([v, device]: [typeof ActivityEpochView.Type, DeviceId]): ActivityEpoch => ({
  start: v.time,
  epochMs: v.epoch_ms,
  deviceId: device,
  enmoMg: v.enmo_mg,
  madMg: v.mad_mg,
  samples: v.samples,
  expected: v.expected_samples,
  coverage: v.coverage,
  wear: v.wear,
  intensity: v.intensity,
  steps: v.steps,
  cadence: v.cadence_spm,
});

describe("the activity page's JSON", () => {
  it("is the JSON the response schema's encoder gives, for any epochs, cursor and patient", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(Arbitrary.make(ActivityEpochView), Arbitrary.make(DeviceId)), {
          maxLength: 30,
        }),
        fc.string(),
        fc.option(fc.string(), { nil: null }),
        Arbitrary.make(CutPointsView),
        (views, patient, cursor, cut) => {
          const epochs = views.map(toEpoch);
          const page = {
            patient_id: patient,
            epochs,
            next_cursor: cursor,
            cut_points: cut,
            algorithms: ACTIVITY_ALGORITHMS,
          };
          const viaSchema = JSON.stringify(
            Schema.encodeSync(ActivityResponse)({
              ...page,
              epochs: epochs.map(epochView),
              count: epochs.length,
            }),
          );
          expect(activityPageJson(page)).toBe(viaSchema);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("stops before its budget in bytes (one epoch at least), the cursor after the last epoch written", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(Arbitrary.make(ActivityEpochView), Arbitrary.make(DeviceId)), {
          maxLength: 30,
        }),
        fc.integer({ min: 1, max: 6_000 }),
        Arbitrary.make(CutPointsView),
        (views, maxBytes, cut) => {
          const epochs = views.map(toEpoch);
          const page = {
            patient_id: "P-1",
            epochs,
            next_cursor: "the domain's",
            cut_points: cut,
            algorithms: ACTIVITY_ALGORITHMS,
          };
          const json = JSON.parse(
            activityPageJson(page, { maxBytes, cursorAfter: (e) => `after ${e.start}` }),
          ) as { count: number; epochs: Array<unknown>; next_cursor: string };
          const all = JSON.parse(JSON.stringify(epochs.map(epochView))) as Array<unknown>;
          expect(json.epochs).toEqual(all.slice(0, json.count));
          if (epochs.length > 0) expect(json.count).toBeGreaterThanOrEqual(1);
          // Bytes as Lambda's response carries them: each quote escaped.
          const escaped = (x: unknown) => JSON.stringify(JSON.stringify(x)).length - 4;
          if (json.count > 1) expect(escaped(json.epochs)).toBeLessThanOrEqual(maxBytes);
          if (json.count < epochs.length) {
            expect(json.next_cursor).toBe(`after ${epochs[json.count - 1]?.start}`);
            expect(escaped(all.slice(0, json.count + 1))).toBeGreaterThan(maxBytes);
          } else expect(json.next_cursor).toBe("the domain's");
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps a full page of the longest epochs within Lambda's 6 MB response", () => {
    const device = DeviceId.make("d".repeat(128));
    const epochs: Array<ActivityEpoch> = Array.from({ length: ACTIVITY_MAX_PAGE }, (_, i) => ({
      start: 1_900_000_000_000 + i * 60_000,
      epochMs: 60_000,
      deviceId: device,
      enmoMg: 123.45678901234567,
      madMg: 234.56789012345678,
      samples: 600,
      expected: 600,
      coverage: 0.9876543210987654,
      wear: true,
      intensity: "moderate",
      steps: 118,
      cadence: 118,
    }));
    const page = {
      patient_id: "P".repeat(256),
      epochs,
      next_cursor: null,
      cut_points: {
        name: "wrist",
        light_mg: 44.8,
        moderate_mg: 100.6,
        vigorous_mg: 428.8,
        source: "s",
        position: "p",
      },
      algorithms: ACTIVITY_ALGORITHMS,
    } as const;
    const body = activityPageJson(page, {
      maxBytes: ACTIVITY_PAGE_BYTES,
      cursorAfter: (e) => `${e.start}~${"d".repeat(128)}`.repeat(2),
    });
    const json = JSON.parse(body) as { count: number; next_cursor: string | null };
    expect(json.count).toBeLessThan(ACTIVITY_MAX_PAGE);
    expect(json.next_cursor).not.toBeNull();
    // As the Lambda answers API Gateway: the body a JSON string.
    expect(Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: {}, body }))).toBeLessThan(
      6 * 1024 * 1024,
    );
  });
});
