import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  DeviceId,
  EpochMillis,
  encodeSampleBatch,
  PatientId,
  parseSensorPayload,
  type Sample,
  SegmentKey,
  type StoredSegment,
  UNASSIGNED,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

/**
 * A stored segment as the sensor table holds it: key `(device_id, timestamp)`,
 * `timestamp` being the segment's key (its earliest sample's millisecond plus
 * the sequence fraction); the samples as the native batch's JSON; about 450
 * bytes for 10 samples (1 write unit). Samples nobody wore carry no
 * `patient_id`, so they stay out of the sparse `patient-timeline-index`: no
 * index write for them, and no single hot `UNASSIGNED` index partition
 * collecting every idle device of the fleet (items written before the index
 * was sparse may say "UNASSIGNED"; they read as nobody's).
 */
const SensorItemFields = Schema.Struct({
  device_id: DeviceId,
  timestamp: SegmentKey,
  end_timestamp: Schema.Number,
  patient_id: Schema.optionalWith(Schema.Union(Schema.Literal(UNASSIGNED), PatientId), {
    exact: true,
  }),
  patient_name: Schema.optionalWith(Schema.String, { exact: true }),
  assignment_timestamp: Schema.optionalWith(EpochMillis, { exact: true }),
  /** DynamoDB TTL: epoch SECONDS. */
  ttl: Schema.Number,
  attributed_version: Schema.optionalWith(Schema.Number, { exact: true }),
  count: Schema.Number,
  sequence_first: Schema.Number,
  sequence_last: Schema.Number,
  /** The device sent no time for these samples; the cloud's receive time stands in. */
  time_source: Schema.optionalWith(Schema.Literal("received_at"), { exact: true }),
  samples: Schema.String,
});

/** The segment as the domain has it; samples are checked by the batch decoder, not again here. */
const StoredSegmentValue = Schema.declare(
  (u: unknown): u is StoredSegment => typeof u === "object" && u !== null && "samples" in u,
  { identifier: "StoredSegment" },
);

export const SensorItem = Schema.transformOrFail(SensorItemFields, StoredSegmentValue, {
  strict: true,
  decode: (item, _, ast) => {
    const payload = parseSensorPayload(item.samples);
    if (Either.isLeft(payload) || payload.right._tag !== "SampleBatch")
      return ParseResult.fail(
        new ParseResult.Type(
          ast,
          item,
          `item ${item.device_id}/${item.timestamp}: unreadable samples`,
        ),
      );
    const samples: ReadonlyArray<Sample> =
      item.time_source === "received_at"
        ? payload.right.samples.map((x) => ({ ...x, timestampSource: "received_at" as const }))
        : payload.right.samples;
    return ParseResult.succeed({
      deviceId: item.device_id,
      key: item.timestamp,
      patientId: item.patient_id ?? UNASSIGNED,
      patientName: item.patient_name ?? null,
      assignmentStart: item.assignment_timestamp ?? null,
      ttl: item.ttl,
      attributedVersion: item.attributed_version ?? 0,
      samples,
    });
  },
  encode: (s) => {
    let end = Number.NEGATIVE_INFINITY;
    for (const x of s.samples) if (x.timestamp > end) end = x.timestamp;
    const first = s.samples[0];
    return ParseResult.succeed({
      device_id: s.deviceId,
      timestamp: s.key,
      end_timestamp: end,
      ...(s.patientId !== UNASSIGNED ? { patient_id: s.patientId } : {}),
      ...(s.patientName !== null ? { patient_name: s.patientName } : {}),
      ...(s.assignmentStart !== null ? { assignment_timestamp: s.assignmentStart } : {}),
      ttl: s.ttl,
      attributed_version: s.attributedVersion,
      count: s.samples.length,
      sequence_first: first?.sequence ?? 0,
      sequence_last: s.samples.at(-1)?.sequence ?? 0,
      ...(first?.timestampSource !== undefined ? { time_source: first.timestampSource } : {}),
      samples: encodeSampleBatch(s.samples),
    });
  },
});

const encodeItem = Schema.encodeSync(SensorItem);
const decodeItem = Schema.decodeUnknownEither(SensorItem);

/** The item a stored segment becomes. */
export const segmentItem = (s: StoredSegment): Record<string, AttributeValue> =>
  marshall(encodeItem(s));

/** A stored item back to a segment. */
export const segmentFromItem = (
  raw: Record<string, AttributeValue>,
): Either.Either<StoredSegment, string> =>
  decodeItem(unmarshall(raw)).pipe(
    Either.mapLeft((e) => ParseResult.TreeFormatter.formatErrorSync(e)),
  );
