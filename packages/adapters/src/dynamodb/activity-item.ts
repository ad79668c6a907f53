import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  type ActivityBlock,
  type ActivityBlockKey,
  BLOCK_MS,
  DeviceId,
  decodeBlock,
  encodeBlock,
  PatientId,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

/**
 * A stored activity block (one patient's epochs on one device over 15
 * minutes) as the activity table holds it: key `(device_id, block)`, where
 * `block` is the block's start (15 digits, so text order is time order) and
 * the patient; the `patient-activity-index` keys it `(patient_id,
 * patient_block)` — start and device — so a patient's week is one Query. The
 * metrics are the block codec's bytes in `m` (about 250 bytes for fifteen
 * 60 s epochs: the item is one write unit); `ttl` in epoch SECONDS.
 */
const ActivityItemFields = Schema.Struct({
  device_id: DeviceId,
  block: Schema.String,
  patient_id: PatientId,
  patient_block: Schema.String,
  start: Schema.Number,
  m: Schema.Uint8ArrayFromSelf,
  ttl: Schema.Number,
});

const BlockValue = Schema.declare(
  (u: unknown): u is ActivityBlock => typeof u === "object" && u !== null && "epochs" in u,
  { identifier: "ActivityBlock" },
);

/** A block start as sort-key text: 15 digits, so that text order is time order. */
export const blockText = (start: number): string => String(start).padStart(15, "0");

export const activityBlockKey = (deviceId: DeviceId, key: ActivityBlockKey) => ({
  device_id: deviceId,
  block: `${blockText(key.start)}#${key.patientId}`,
});

/** The one transform between an activity block and its item. */
export const ActivityItem = Schema.transformOrFail(ActivityItemFields, BlockValue, {
  strict: true,
  decode: (item, _, ast) => {
    if (
      item.start % BLOCK_MS !== 0 ||
      item.block !==
        activityBlockKey(item.device_id, { start: item.start, patientId: item.patient_id }).block
    )
      return ParseResult.fail(new ParseResult.Type(ast, item, "the key does not match the block"));
    const metrics = decodeBlock(item.m, item.start);
    return Either.isLeft(metrics)
      ? ParseResult.fail(new ParseResult.Type(ast, item, metrics.left))
      : ParseResult.succeed({
          ...metrics.right,
          deviceId: item.device_id,
          patientId: item.patient_id,
          ttl: item.ttl,
        });
  },
  encode: (b) =>
    ParseResult.succeed({
      ...activityBlockKey(b.deviceId, b),
      patient_id: b.patientId,
      patient_block: `${blockText(b.start)}#${b.deviceId}`,
      start: b.start,
      m: encodeBlock(b),
      ttl: b.ttl,
    }),
});

const encodeItem = Schema.encodeSync(ActivityItem);
const decodeItem = Schema.decodeUnknownEither(ActivityItem);

export const activityItem = (b: ActivityBlock): Record<string, AttributeValue> =>
  marshall(encodeItem(b));

export const activityFromItem = (
  item: Record<string, AttributeValue>,
): Either.Either<ActivityBlock, string> =>
  Either.mapLeft(decodeItem(unmarshall(item)), (e) => e.message);
