import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
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
 * Blocks one activity item holds: an hour (four 15-minute blocks) of one
 * patient on one device. A week of one device is 168 items, not 672: DynamoDB
 * (and DynamoDB Local) pay per item read, and a week's overview is one Query
 * of them. An item of four blocks of fifteen 60 s epochs is about 1.1 KB (two
 * write units); a refresh sets only the quarters it recomputed.
 */
export const BLOCKS_PER_ITEM = 4;
export const ITEM_MS = BLOCKS_PER_ITEM * BLOCK_MS;

/** The start of the item (hour, UTC) holding the block starting at `start`. */
export const itemStartOf = (start: number): number => Math.floor(start / ITEM_MS) * ITEM_MS;

/** The attribute holding quarter `k` (0–3) of the hour: the block codec's bytes. */
export const QUARTERS = ["q0", "q1", "q2", "q3"] as const;
export type Quarter = (typeof QUARTERS)[number];
export const quarterOf = (start: number): Quarter => {
  const k = Math.floor((start - itemStartOf(start)) / BLOCK_MS);
  return k <= 0 ? "q0" : k === 1 ? "q1" : k === 2 ? "q2" : "q3";
};

/**
 * A stored activity item as the activity table holds it: key `(device_id,
 * block)`, where `block` is the hour's start (15 digits, so text order is
 * time order) and the patient; the `patient-activity-index` keys it
 * `(patient_id, patient_block)` — hour start and device — so a patient's
 * week is one Query. The blocks of the hour are the block codec's bytes in
 * `q0`…`q3` (a quarter without samples of the patient has none); `ttl` in
 * epoch SECONDS: the retention after the hour's end (a block's own expiry is
 * that less the quarters after it).
 */
const ActivityItemFields = Schema.Struct({
  device_id: DeviceId,
  block: Schema.String,
  patient_id: PatientId,
  patient_block: Schema.String,
  start: Schema.Number,
  q0: Schema.optionalWith(Schema.Uint8ArrayFromSelf, { exact: true }),
  q1: Schema.optionalWith(Schema.Uint8ArrayFromSelf, { exact: true }),
  q2: Schema.optionalWith(Schema.Uint8ArrayFromSelf, { exact: true }),
  q3: Schema.optionalWith(Schema.Uint8ArrayFromSelf, { exact: true }),
  ttl: Schema.Number,
});

const BlocksValue = Schema.declare(
  (u: unknown): u is ReadonlyArray<ActivityBlock> => Array.isArray(u),
  { identifier: "ActivityBlocks" },
);

/** A start as sort-key text: 15 digits, so that text order is time order. */
export const blockText = (start: number): string => String(start).padStart(15, "0");

/** The key of the item holding the patient's block starting at `key.start` (any start within the hour). */
export const activityItemKey = (deviceId: DeviceId, key: ActivityBlockKey) => ({
  device_id: deviceId,
  block: `${blockText(itemStartOf(key.start))}#${key.patientId}`,
});

/** The item's expiry for a block's: the block's, moved to the hour's end. */
export const itemTtlOf = (b: Pick<ActivityBlock, "start" | "ttl">): number =>
  b.ttl + (itemStartOf(b.start) + ITEM_MS - (b.start + BLOCK_MS)) / 1000;

type ItemFields = typeof ActivityItemFields.Type;

/** The blocks of an item's fields (in quarter order), or why they are not an item's. */
const blocksOf = (item: ItemFields): Either.Either<ReadonlyArray<ActivityBlock>, string> => {
  if (
    item.start % ITEM_MS !== 0 ||
    item.block !==
      activityItemKey(item.device_id, { start: item.start, patientId: item.patient_id }).block
  )
    return Either.left("the key does not match the item");
  const blocks: Array<ActivityBlock> = [];
  for (const [k, quarter] of QUARTERS.entries()) {
    const bytes = item[quarter];
    if (bytes === undefined) continue;
    const start = item.start + k * BLOCK_MS;
    const metrics = decodeBlock(bytes, start);
    if (Either.isLeft(metrics)) return Either.left(metrics.left);
    blocks.push({
      ...metrics.right,
      deviceId: item.device_id,
      patientId: item.patient_id,
      ttl: item.ttl - (ITEM_MS - (k + 1) * BLOCK_MS) / 1000,
    });
  }
  return Either.right(blocks);
};

/** The one transform between an activity item and the blocks it holds (in quarter order). */
export const ActivityItem = Schema.transformOrFail(ActivityItemFields, BlocksValue, {
  strict: true,
  decode: (item, _, ast) =>
    Either.match(blocksOf(item), {
      onLeft: (reason) => ParseResult.fail(new ParseResult.Type(ast, item, reason)),
      onRight: ParseResult.succeed,
    }),
  encode: (blocks, _, ast) => {
    const [first] = blocks;
    if (!first) return ParseResult.fail(new ParseResult.Type(ast, blocks, "no blocks"));
    const start = itemStartOf(first.start);
    const quarters: Partial<Record<Quarter, Uint8Array>> = {};
    for (const b of blocks) {
      if (
        itemStartOf(b.start) !== start ||
        b.deviceId !== first.deviceId ||
        b.patientId !== first.patientId
      )
        return ParseResult.fail(new ParseResult.Type(ast, blocks, "blocks of several items"));
      quarters[quarterOf(b.start)] = encodeBlock(b);
    }
    return ParseResult.succeed({
      ...activityItemKey(first.deviceId, first),
      patient_id: first.patientId,
      patient_block: `${blockText(start)}#${first.deviceId}`,
      start,
      ...quarters,
      ttl: Math.max(...blocks.map(itemTtlOf)),
    });
  },
});

const decodeItem = Schema.decodeUnknownEither(ActivityItem);
const isDeviceId = Schema.is(DeviceId);
const isPatientId = Schema.is(PatientId);

/** A number attribute DynamoDB sent, when `unmarshall` would give it as a plain number. */
const numberOf = (v: AttributeValue | undefined): number | undefined => {
  if (v?.N === undefined) return undefined;
  const n = Number(v.N);
  return Number.isFinite(n) && Math.abs(n) <= Number.MAX_SAFE_INTEGER ? n : undefined;
};

/** A binary attribute, absent, or `false` when the attribute is there with another type. */
const bytesOf = (v: AttributeValue | undefined): Uint8Array | undefined | false =>
  v === undefined ? undefined : v.B instanceof Uint8Array ? v.B : false;

/**
 * The item's fields read straight from DynamoDB's attribute values, without
 * `unmarshall` and the schema walking each attribute: the same values the
 * schema's decoding gives, or undefined for anything it would have to judge
 * (a missing or mistyped field: the schema then says why).
 */
const fieldsOf = (item: Record<string, AttributeValue>): ItemFields | undefined => {
  const device = item.device_id?.S;
  const block = item.block?.S;
  const patient = item.patient_id?.S;
  const patientBlock = item.patient_block?.S;
  const start = numberOf(item.start);
  const ttl = numberOf(item.ttl);
  const q0 = bytesOf(item.q0);
  const q1 = bytesOf(item.q1);
  const q2 = bytesOf(item.q2);
  const q3 = bytesOf(item.q3);
  if (
    device === undefined ||
    block === undefined ||
    patient === undefined ||
    patientBlock === undefined ||
    start === undefined ||
    ttl === undefined ||
    q0 === false ||
    q1 === false ||
    q2 === false ||
    q3 === false ||
    !isDeviceId(device) ||
    !isPatientId(patient)
  )
    return undefined;
  return {
    device_id: device,
    block,
    patient_id: patient,
    patient_block: patientBlock,
    start,
    ttl,
    ...(q0 !== undefined ? { q0 } : {}),
    ...(q1 !== undefined ? { q1 } : {}),
    ...(q2 !== undefined ? { q2 } : {}),
    ...(q3 !== undefined ? { q3 } : {}),
  };
};

/**
 * The blocks an item holds, or why it is not an activity item. A well-formed
 * item (every read of a week's 168) takes the fast path (`fieldsOf`, then the
 * transform's own decoding); anything else goes through the schema, which
 * gives the same blocks or says what is wrong (a property test holds the two
 * paths equal).
 */
export const activityFromItem = (
  item: Record<string, AttributeValue>,
): Either.Either<ReadonlyArray<ActivityBlock>, string> => {
  const fields = fieldsOf(item);
  if (fields !== undefined) {
    const blocks = blocksOf(fields);
    if (Either.isRight(blocks)) return blocks;
  }
  return activityFromItemBySchema(item);
};

/** `activityFromItem` through the schema alone (`unmarshall`, then `ActivityItem`). */
export const activityFromItemBySchema = (
  item: Record<string, AttributeValue>,
): Either.Either<ReadonlyArray<ActivityBlock>, string> =>
  Either.mapLeft(decodeItem(unmarshall(item)), (e) => e.message);
