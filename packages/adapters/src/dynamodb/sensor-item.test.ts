import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import {
  deviceId,
  encodeSampleBatch,
  epochMillis,
  patientId,
  type Sample,
  type StoredSegment,
  segmentKey,
} from "@medusa/domain";
import { walkingWrist } from "@medusa/domain/testing";
import { Either } from "effect";
import { describe, expect, it } from "vitest";
import { indexEntry, itemSize, STORAGE_OVERHEAD_BYTES } from "./item-size.js";
import {
  segmentFromItem,
  segmentItem,
  TIMELINE_PROJECTION,
  timelineEntryFromItem,
} from "./sensor-item.js";

const T = 1_763_625_600_000;

/** An ADXL345 on a walking wrist at 10 Hz, in the chip's whole steps. */
const walking = (n = 100): Array<Sample> =>
  walkingWrist({ start: T, firstSequence: 1_234_567 }, 0, n);

const segment = (samples: ReadonlyArray<Sample>): StoredSegment => ({
  deviceId: deviceId("medusa-pi-0001"),
  patientId: patientId("P-000123"),
  patientName: null,
  assignmentStart: epochMillis(T - 86_400_000),
  key: segmentKey(samples),
  attributedVersion: 12,
  ttl: Math.ceil((T + 30 * 86_400_000) / 1000),
  samples,
});

const TABLE_KEYS = ["device_id", "timestamp"];
const INDEX_KEYS = [...TABLE_KEYS, "patient_id"];

describe("the sensor item", () => {
  it("100 ADXL345 samples at 10 Hz are one item under 1 KB (one write unit), under 12 bytes a sample stored in table and index together", () => {
    const item = segmentItem(segment(walking()));
    const size = itemSize(item);
    expect(size).toBeLessThanOrEqual(1_024);
    const entry = indexEntry(item, INDEX_KEYS, TIMELINE_PROJECTION);
    const stored = size + STORAGE_OVERHEAD_BYTES + itemSize(entry) + STORAGE_OVERHEAD_BYTES;
    expect(stored / 100).toBeLessThanOrEqual(12);
    // The index entry is a write unit too: under 1 KB.
    expect(itemSize(entry)).toBeLessThanOrEqual(1_024);
  });

  it("sizes items as DynamoDB does: names, UTF-8 strings, raw binary, numbers by significant digits", () => {
    expect(itemSize({ a: { S: "héllo" } })).toBe(1 + 6);
    expect(itemSize({ bb: { B: new Uint8Array(10) } })).toBe(2 + 10);
    expect(itemSize({ n: { N: "1763625600000" } })).toBe(1 + (Math.ceil(8 / 2) + 1));
    expect(itemSize({ n: { N: "0.0039" } })).toBe(1 + 2);
    expect(itemSize({ n: { N: "-120" } })).toBe(1 + 2);
  });

  it("round-trips a segment through its item, and reads it from the index entry alone", () => {
    const s = segment(walking(37));
    const back = segmentFromItem(segmentItem(s));
    expect(Either.getOrThrow(back)).toEqual(s);
    const entry = timelineEntryFromItem(
      indexEntry(segmentItem(s), INDEX_KEYS, TIMELINE_PROJECTION),
    );
    expect(Either.getOrThrow(entry).samples).toEqual(s.samples);
  });

  it("items written before the compact form (the native batch's JSON, long names) stay readable, in the table and the index", () => {
    const samples = walking(10);
    const old: Record<string, AttributeValue> = marshall({
      device_id: "medusa-pi-0001",
      timestamp: segmentKey(samples),
      end_timestamp: T + 900,
      patient_id: "P-000123",
      patient_name: "A patient name",
      assignment_timestamp: T - 86_400_000,
      ttl: 1_800_000_000,
      attributed_version: 3,
      count: 10,
      sequence_first: samples[0]?.sequence,
      sequence_last: samples[9]?.sequence,
      samples: encodeSampleBatch(samples),
    });
    const read = Either.getOrThrow(segmentFromItem(old));
    expect(read).toMatchObject({
      patientId: "P-000123",
      patientName: "A patient name",
      assignmentStart: T - 86_400_000,
      attributedVersion: 3,
    });
    expect(read.samples.map((x) => [x.timestamp, x.sequence, x.x])).toEqual(
      samples.map((x) => [x.timestamp, x.sequence, x.x]),
    );
    const entry = Either.getOrThrow(
      timelineEntryFromItem(indexEntry(old, INDEX_KEYS, TIMELINE_PROJECTION)),
    );
    expect(entry.samples).toHaveLength(10);
  });
});
