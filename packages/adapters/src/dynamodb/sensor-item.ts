import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  DeviceId,
  decodeSamples,
  EpochMillis,
  encodeSamples,
  PatientId,
  parseSensorPayload,
  SAMPLE_CODEC_VERSION,
  type Sample,
  SegmentKey,
  type StoredSegment,
  UNASSIGNED,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

/**
 * A stored segment as the sensor table holds it, key `(device_id, timestamp)`
 * — `timestamp` being the segment's key (its earliest sample's millisecond
 * plus the sequence fraction). Samples nobody wore carry no `patient_id`, so
 * they stay out of the sparse `patient-timeline-index` (no index write, no
 * hot `UNASSIGNED` partition; items written before the index was sparse may
 * say "UNASSIGNED" and read as nobody's).
 *
 * Two formats, told apart by `v`:
 * - **2** (written now): the samples in `b`, the compact binary form
 *   (`encodeSamples`: about 3–4 bytes a sample for an ADXL345); `av` the
 *   stream version that attributed them, `as` the start of their assignment.
 *   An item of 100 samples is about 450 bytes: one write unit.
 * - **1** (items written before; still read): the samples as the native
 *   batch's JSON in `samples`, and long attribute names.
 *
 * The patient's name is not kept with the samples (it is in the mapping
 * table): fewer bytes, and no name copied into every item.
 */
const SensorItemFields = Schema.Struct({
  device_id: DeviceId,
  timestamp: SegmentKey,
  patient_id: Schema.optionalWith(Schema.Union(Schema.Literal(UNASSIGNED), PatientId), {
    exact: true,
  }),
  /** DynamoDB TTL: epoch SECONDS. */
  ttl: Schema.Number,
  v: Schema.optionalWith(Schema.Literal(SAMPLE_CODEC_VERSION), { exact: true }),
  b: Schema.optionalWith(Schema.Uint8ArrayFromSelf, { exact: true }),
  av: Schema.optionalWith(Schema.Number, { exact: true }),
  as: Schema.optionalWith(EpochMillis, { exact: true }),
  // Format 1.
  samples: Schema.optionalWith(Schema.String, { exact: true }),
  attributed_version: Schema.optionalWith(Schema.Number, { exact: true }),
  assignment_timestamp: Schema.optionalWith(EpochMillis, { exact: true }),
  patient_name: Schema.optionalWith(Schema.String, { exact: true }),
  /** Format 1: the device sent no time for these samples; the cloud's receive time stands in. */
  time_source: Schema.optionalWith(Schema.Literal("received_at"), { exact: true }),
});

/** The segment as the domain has it; its samples are checked by their decoder, not again here. */
const StoredSegmentValue = Schema.declare(
  (u: unknown): u is StoredSegment => typeof u === "object" && u !== null && "samples" in u,
  { identifier: "StoredSegment" },
);

/** The samples of an item of either format, or why they cannot be read. */
export const samplesOfItem = (item: {
  readonly v?: number;
  readonly b?: Uint8Array;
  readonly samples?: string;
  readonly time_source?: "received_at";
}): Either.Either<ReadonlyArray<Sample>, string> => {
  if (item.b !== undefined) return decodeSamples(item.b);
  const payload = parseSensorPayload(item.samples ?? "");
  if (Either.isLeft(payload) || payload.right._tag !== "SampleBatch")
    return Either.left("unreadable samples");
  return Either.right(
    item.time_source === "received_at"
      ? payload.right.samples.map((x) => ({ ...x, timestampSource: "received_at" as const }))
      : payload.right.samples,
  );
};

export const SensorItem = Schema.transformOrFail(SensorItemFields, StoredSegmentValue, {
  strict: true,
  decode: (item, _, ast) => {
    const samples = samplesOfItem(item);
    if (Either.isLeft(samples))
      return ParseResult.fail(
        new ParseResult.Type(
          ast,
          item,
          `item ${item.device_id}/${item.timestamp}: ${samples.left}`,
        ),
      );
    return ParseResult.succeed({
      deviceId: item.device_id,
      key: item.timestamp,
      patientId: item.patient_id ?? UNASSIGNED,
      patientName: item.patient_name ?? null,
      assignmentStart: item.as ?? item.assignment_timestamp ?? null,
      ttl: item.ttl,
      attributedVersion: item.av ?? item.attributed_version ?? 0,
      samples: samples.right,
    });
  },
  encode: (s) =>
    ParseResult.succeed({
      device_id: s.deviceId,
      timestamp: s.key,
      ...(s.patientId !== UNASSIGNED ? { patient_id: s.patientId } : {}),
      ttl: s.ttl,
      v: SAMPLE_CODEC_VERSION,
      b: encodeSamples(s.samples),
      av: s.attributedVersion,
      ...(s.assignmentStart !== null ? { as: s.assignmentStart } : {}),
    }),
});

const encodeItem = Schema.encodeSync(SensorItem);
const decodeItem = Schema.decodeUnknownEither(SensorItem);

/** The item a stored segment becomes. */
export const segmentItem = (s: StoredSegment): Record<string, AttributeValue> =>
  marshall(encodeItem(s));

/** A stored segment's key in the sensor table: `(device_id, timestamp)`, as its item holds them. */
export const segmentItemKey = (s: StoredSegment): Record<string, AttributeValue> =>
  marshall({ device_id: s.deviceId, timestamp: s.key });

/** A stored item back to a segment. */
export const segmentFromItem = (
  raw: Record<string, AttributeValue>,
): Either.Either<StoredSegment, string> =>
  decodeItem(unmarshall(raw)).pipe(
    Either.mapLeft((e) => ParseResult.TreeFormatter.formatErrorSync(e)),
  );

/**
 * What the patient-timeline index holds of an item: its keys and samples (the
 * index projects `b`, and `samples` and `time_source` of format-1 items), so
 * a timeline is one Query of the index, charged by the bytes it reads.
 */
export const TIMELINE_PROJECTION: ReadonlyArray<string> = ["v", "b", "samples", "time_source"];

/** A patient-timeline index entry: the device, the item's key, its samples. */
export interface TimelineEntry {
  readonly deviceId: DeviceId;
  readonly key: SegmentKey;
  readonly patientId: string | undefined;
  readonly samples: ReadonlyArray<Sample>;
}

const TimelineFields = Schema.Struct({
  device_id: DeviceId,
  timestamp: SegmentKey,
  patient_id: Schema.optionalWith(Schema.String, { exact: true }),
  v: Schema.optionalWith(Schema.Number, { exact: true }),
  b: Schema.optionalWith(Schema.Uint8ArrayFromSelf, { exact: true }),
  samples: Schema.optionalWith(Schema.String, { exact: true }),
  time_source: Schema.optionalWith(Schema.Literal("received_at"), { exact: true }),
});
const decodeTimelineFields = Schema.decodeUnknownEither(TimelineFields);

/** An index entry back to its samples. */
export const timelineEntryFromItem = (
  raw: Record<string, AttributeValue>,
): Either.Either<TimelineEntry, string> => {
  const fields = decodeTimelineFields(unmarshall(raw));
  if (Either.isLeft(fields))
    return Either.left(ParseResult.TreeFormatter.formatErrorSync(fields.left));
  const item = fields.right;
  return samplesOfItem(item).pipe(
    Either.map((samples) => ({
      deviceId: item.device_id,
      key: item.timestamp,
      patientId: item.patient_id,
      samples,
    })),
    Either.mapLeft((why) => `item ${item.device_id}/${item.timestamp}: ${why}`),
  );
};
