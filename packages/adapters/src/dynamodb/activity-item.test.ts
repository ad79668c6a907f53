import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { type ActivityBlock, BLOCK_MS, DeviceId, PatientId } from "@medusa/domain";
import { Arbitrary, Either, Schema } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  ActivityItem,
  activityFromItem,
  activityFromItemBySchema,
  QUARTERS,
  quarterOf,
} from "./activity-item.js";

const HOUR = 3_600_000;
const T = 1_763_625_600_000;
const whole = fc.integer({ min: 0, max: 2 ** 40 });
const signed = fc.integer({ min: -(2 ** 40), max: 2 ** 40 });
const axis = fc.record({ sum: signed, squares: whole, min: signed, max: signed });

/** A block's metrics as any refresh could store them (whole numbers, epochs in order). */
const metrics = fc.constantFrom(5_000, 10_000, 30_000, 60_000).chain((epochMs) =>
  fc.record({
    epochMs: fc.constant(epochMs),
    epochs: fc
      .uniqueArray(fc.integer({ min: 0, max: BLOCK_MS / epochMs - 1 }), { maxLength: 15 })
      .chain((indices) =>
        fc.tuple(
          ...[...indices]
            .sort((a, b) => a - b)
            .map((index) =>
              fc.record({
                index: fc.constant(index),
                samples: whole,
                expected: whole,
                enmo: whole,
                mad: whole,
                steps: whole,
              }),
            ),
        ),
      ),
    stats: fc.record({
      samples: whole,
      minutes: fc.integer({ min: 0, max: 2 ** 15 - 1 }),
      x: axis,
      y: axis,
      z: axis,
    }),
  }),
);

/** The blocks of one stored item: some quarters of an hour of one patient on one device. */
const itemBlocks = fc
  .record({
    deviceId: Arbitrary.make(DeviceId),
    patientId: Arbitrary.make(PatientId),
    hour: fc.integer({ min: 0, max: 24 * 400 }),
    ttl: fc.integer({ min: 1_700_000_000, max: 1_900_000_000 }),
    quarters: fc.uniqueArray(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 4 }),
  })
  .chain(({ deviceId, patientId, hour, ttl, quarters }) =>
    fc.tuple(
      ...[...quarters]
        .sort((a, b) => a - b)
        .map((q) =>
          metrics.map(
            (m): ActivityBlock => ({
              ...m,
              start: T + hour * HOUR + q * BLOCK_MS,
              deviceId,
              patientId,
              ttl: ttl - (3 - q) * (BLOCK_MS / 1000),
            }),
          ),
        ),
    ),
  );

const itemOf = (blocks: ReadonlyArray<ActivityBlock>): Record<string, AttributeValue> =>
  marshall(Schema.encodeSync(ActivityItem)(blocks));

/** What can be wrong with an item read back: a field gone, of another type, a key or a quarter that do not fit. */
const damage: fc.Arbitrary<(item: Record<string, AttributeValue>) => void> = fc.oneof(
  fc
    .constantFrom("device_id", "block", "patient_id", "patient_block", "start", "ttl", "q0", "q3")
    .map((name) => (item: Record<string, AttributeValue>) => {
      delete item[name];
    }),
  fc.constantFrom("device_id", "block", "start", "ttl", "q1").chain((name) =>
    fc
      .constantFrom<AttributeValue>(
        { S: "12" },
        { N: "12" },
        { NULL: true },
        { B: Uint8Array.of(1) },
        { N: "1e300" },
      )
      .map((value) => (item: Record<string, AttributeValue>) => {
        item[name] = value;
      }),
  ),
  fc.constant((item: Record<string, AttributeValue>) => {
    item.block = { S: `${item.block?.S}x` };
  }),
  fc.constant((item: Record<string, AttributeValue>) => {
    item.start = { N: String(Number(item.start?.N) + BLOCK_MS) };
  }),
  fc.constant((item: Record<string, AttributeValue>) => {
    item.patient_id = { S: "" };
  }),
  fc.integer({ min: 0, max: 40 }).map((at) => (item: Record<string, AttributeValue>) => {
    for (const q of ["q0", "q1", "q2", "q3"]) {
      const bytes = item[q]?.B;
      if (bytes) {
        const copy = Uint8Array.from(bytes);
        copy[at % copy.length] = 0xff;
        item[q] = { B: copy.subarray(0, Math.max(1, copy.length - (at % 3))) };
        return;
      }
    }
  }),
  fc.constant((item: Record<string, AttributeValue>) => {
    item.extra = { S: "an attribute the item does not define" };
  }),
);

describe("activity item: the fast read", () => {
  it("gives back the blocks written, as the schema does", () => {
    fc.assert(
      fc.property(itemBlocks, (blocks) => {
        const item = itemOf(blocks);
        const fast = activityFromItem(item);
        expect(fast).toStrictEqual(Either.right(blocks));
        expect(fast).toStrictEqual(activityFromItemBySchema(item));
      }),
      { numRuns: 300 },
    );
  });

  it("judges a damaged item exactly as the schema does (the same blocks or the same reason)", () => {
    fc.assert(
      fc.property(itemBlocks, fc.array(damage, { minLength: 1, maxLength: 3 }), (blocks, harms) => {
        const item = itemOf(blocks);
        for (const harm of harms) harm(item);
        let bySchema: Either.Either<ReadonlyArray<ActivityBlock>, string> | "throws";
        try {
          bySchema = activityFromItemBySchema(item);
        } catch {
          bySchema = "throws";
        }
        if (bySchema === "throws") expect(() => activityFromItem(item)).toThrow();
        else expect(activityFromItem(item)).toStrictEqual(bySchema);
      }),
      { numRuns: 500 },
    );
  });
});

describe("quarterOf", () => {
  it("names the quarter of the hour a block starts in, q0 to q3, for any hour", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 500_000 }), fc.nat(3), (hour, k) => {
        const start = T - (T % HOUR) + hour * HOUR + k * BLOCK_MS;
        expect(quarterOf(start)).toBe(QUARTERS[k]);
        expect(quarterOf(start + BLOCK_MS - 1)).toBe(QUARTERS[k]);
      }),
    );
  });
});
