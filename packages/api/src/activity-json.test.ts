import { ACTIVITY_ALGORITHMS, type ActivityEpoch, DeviceId } from "@medusa/domain";
import { Arbitrary, Schema } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ACTIVITY_PAGE_BYTES,
  type ActivityPageJson,
  activityPageBody,
  epochView,
} from "./activity-json.js";
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

/** The body's bytes as text (UTF-8): where a test compares them with JSON text. */
const decode = (b: Uint8Array) => new TextDecoder().decode(b);

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
          expect(decode(activityPageBody(page))).toBe(viaSchema);
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
            decode(activityPageBody(page, { maxBytes, cursorAfter: (e) => `after ${e.start}` })),
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
    const body = decode(
      activityPageBody(page, {
        maxBytes: ACTIVITY_PAGE_BYTES,
        cursorAfter: (e) => `${e.start}~${"d".repeat(128)}`.repeat(2),
      }),
    );
    const json = JSON.parse(body) as { count: number; next_cursor: string | null };
    expect(json.count).toBeLessThan(ACTIVITY_MAX_PAGE);
    expect(json.next_cursor).not.toBeNull();
    // As the Lambda answers API Gateway: the body a JSON string.
    expect(Buffer.byteLength(JSON.stringify({ statusCode: 200, headers: {}, body }))).toBeLessThan(
      6 * 1024 * 1024,
    );
  });
});

const WRIST = {
  name: "wrist",
  light_mg: 44.8,
  moderate_mg: 100.6,
  vigorous_mg: 428.8,
  source: "s",
  position: "p",
} as const;

/** Epochs as a week has them, and as they should never be: few devices, any number (NaN, ±Infinity, −0, huge), null intensity. */
const anyNumber = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1, 60_000, 1.7e12, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, 1e21, 5e-7),
);
const pageEpoch = (devices: ReadonlyArray<DeviceId>) =>
  fc.record({
    start: anyNumber,
    epochMs: anyNumber,
    deviceId: fc.constantFrom(...devices),
    samples: anyNumber,
    expected: anyNumber,
    coverage: anyNumber,
    enmoMg: anyNumber,
    madMg: anyNumber,
    steps: anyNumber,
    cadence: anyNumber,
    wear: fc.boolean(),
    intensity: fc.constantFrom("sedentary", "light", "moderate", "vigorous", null),
  }) satisfies fc.Arbitrary<ActivityEpoch>;
const pageEpochs = fc
  .uniqueArray(Arbitrary.make(DeviceId), { minLength: 1, maxLength: 3 })
  .chain((devices) => fc.array(pageEpoch(devices), { maxLength: 300, size: "max" }));

/** The page as the schema's encoder gives it, `count` epochs of it and `next` its cursor. */
const viaSchema = (page: ActivityPageJson, count: number, next: string | null): string =>
  JSON.stringify(
    Schema.encodeSync(ActivityResponse)({
      ...page,
      epochs: page.epochs.slice(0, count).map(epochView),
      count,
      next_cursor: next,
    }),
  );

/** The bytes of the first 1, 2, … epochs as Lambda carries them (characters, an escape per quote), a comma between. */
const lambdaBytesOf = (epochs: ReadonlyArray<ActivityEpoch>): Array<number> => {
  let bytes = 0;
  return epochs.map((e, i) => {
    const json = JSON.stringify(epochView(e));
    bytes += json.length + (json.match(/"/g)?.length ?? 0) + (i > 0 ? 1 : 0);
    return bytes;
  });
};

/** Where a budget ends a page: before the epoch that takes it past `maxBytes` (one epoch at least). */
const cutOf = (epochs: ReadonlyArray<ActivityEpoch>, maxBytes: number): number => {
  const sums = lambdaBytesOf(epochs);
  const i = sums.findIndex((b, k) => k > 0 && b > maxBytes);
  return i === -1 ? epochs.length : i;
};

describe("the activity page's body (bytes)", () => {
  it("is the UTF-8 of the schema's JSON for pages of hundreds of epochs, several devices, any numbers and any text around them", () => {
    fc.assert(
      fc.property(
        pageEpochs,
        fc.fullUnicodeString(),
        fc.option(fc.fullUnicodeString(), { nil: null }),
        Arbitrary.make(CutPointsView),
        (epochs, patient, cursor, cut) => {
          const page = {
            patient_id: patient,
            epochs,
            next_cursor: cursor,
            cut_points: cut,
            algorithms: ACTIVITY_ALGORITHMS,
          };
          const body = activityPageBody(page);
          expect(decode(body)).toBe(viaSchema(page, epochs.length, cursor));
          expect(
            Buffer.from(body).equals(Buffer.from(viaSchema(page, epochs.length, cursor))),
          ).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("ends where the budget in Lambda's bytes says, the cursor after the last epoch written", () => {
    fc.assert(
      fc.property(
        pageEpochs,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: -2, max: 2 }),
        (epochs, at, off) => {
          // A budget just around where some epoch ends: one byte counted wrong moves the cut.
          const sums = lambdaBytesOf(epochs);
          const maxBytes = Math.max(1, (sums[Math.floor(at * (sums.length - 1))] ?? 1) + off);
          const page = {
            patient_id: "P-1",
            epochs,
            next_cursor: null,
            cut_points: WRIST,
            algorithms: ACTIVITY_ALGORITHMS,
          };
          const count = cutOf(epochs, maxBytes);
          const next = count < epochs.length ? `after ${count - 1}` : null;
          const body = activityPageBody(page, {
            maxBytes,
            cursorAfter: (e) => `after ${epochs.indexOf(e)}`,
          });
          expect(decode(body)).toBe(viaSchema(page, count, next));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("holds a week of one device's 60 s epochs in one page, every byte the schema's", () => {
    const device = DeviceId.make("bench-act-a");
    const epochs: Array<ActivityEpoch> = Array.from({ length: 10_080 }, (_, i) => {
      const samples = 590 + (i % 11);
      const enmoMg = (i * 7_919) / samples / 1000;
      return {
        start: 1_900_000_000_000 + i * 60_000,
        epochMs: 60_000,
        deviceId: device,
        enmoMg,
        madMg: (i * 31) / 1000,
        samples,
        expected: 600,
        coverage: Math.min(1, samples / 600),
        wear: i % 97 !== 0,
        intensity: i % 97 === 0 ? null : enmoMg < 44.8 ? "sedentary" : "light",
        steps: i % 120,
        cadence: i % 120,
      };
    });
    const page = {
      patient_id: "P-1",
      epochs,
      next_cursor: null,
      cut_points: WRIST,
      algorithms: ACTIVITY_ALGORITHMS,
    };
    const body = activityPageBody(page, {
      maxBytes: ACTIVITY_PAGE_BYTES,
      cursorAfter: () => "more",
    });
    expect(decode(body)).toBe(viaSchema(page, epochs.length, null));
  });
});
