import { ACTIVITY_ALGORITHMS, type ActivityEpoch, DeviceId } from "@medusa/domain";
import { Arbitrary, Schema } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { activityPageJson, epochView } from "./activity-json.js";
import { ActivityEpochView, ActivityResponse, CutPointsView } from "./schemas.js";

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
});
