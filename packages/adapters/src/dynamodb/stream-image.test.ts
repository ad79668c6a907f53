import { deviceId, epochMillis, type StoredSegment, UNASSIGNED } from "@medusa/domain";
import { Either } from "effect";
import { describe, expect, it } from "vitest";
import { segmentItem } from "./sensor-item.js";
import { segmentFromStreamImage, streamImageItem } from "./stream-image.js";

/** An SDK item as the Streams API's JSON carries it: binary as base64. */
const asStreamJson = (item: unknown): unknown =>
  JSON.parse(
    JSON.stringify(item, (_, v) =>
      v instanceof Uint8Array ? Buffer.from(v).toString("base64") : v,
    ),
  );

const segment: StoredSegment = {
  deviceId: deviceId("pi-stream-1"),
  key: 1_795_000_000_000 as StoredSegment["key"],
  patientId: UNASSIGNED,
  patientName: null,
  assignmentStart: null,
  ttl: 1_797_592_000,
  attributedVersion: 3,
  samples: [0, 1, 2].map((i) => ({
    timestamp: epochMillis(1_795_000_000_000 + i * 100),
    sequence: i,
    x: 0.01 * i,
    y: -0.02,
    z: 0.98,
    magnitude: 0.98,
  })),
};

describe("stream images", () => {
  it("a sensor item, as a stream record carries it (base64 binary), reads back as the stored segment", () => {
    const fromJson = segmentFromStreamImage(asStreamJson(segmentItem(segment)));
    const fromSdk = segmentFromStreamImage(segmentItem(segment));
    expect(Either.getOrThrow(fromJson)).toEqual(Either.getOrThrow(fromSdk));
    expect(Either.getOrThrow(fromJson).samples.map((s) => s.sequence)).toEqual([0, 1, 2]);
  });

  it("reads every attribute type, nested", () => {
    const item = Either.getOrThrow(
      streamImageItem({
        s: { S: "a" },
        n: { N: "1.5" },
        b: { B: "AQID" },
        ok: { BOOL: true },
        nil: { NULL: true },
        ss: { SS: ["x"] },
        ns: { NS: ["1"] },
        bs: { BS: ["AQ=="] },
        m: { M: { l: { L: [{ S: "y" }, { B: "AA==" }] } } },
      }),
    );
    expect(item.b).toEqual({ B: new Uint8Array([1, 2, 3]) });
    expect(item.bs).toEqual({ BS: [new Uint8Array([1])] });
    expect(item.m).toEqual({ M: { l: { L: [{ S: "y" }, { B: new Uint8Array([0]) }] } } });
  });

  it("says where an image is malformed", () => {
    const why = (image: unknown) =>
      Either.flip(segmentFromStreamImage(image)).pipe(Either.getOrThrow);
    expect(why(null)).toMatch(/not an item image/);
    expect(why({ b: { B: "not base64!" } })).toMatch(/image\.b: B is not base64/);
    expect(why({ n: { N: "NaN" } })).toMatch(/N not a number/);
    expect(why({ x: { S: "a", N: "1" } })).toMatch(/exactly one type/);
    expect(why({ x: { Q: 1 } })).toMatch(/unknown attribute type Q/);
    // A readable image that is not a sensor item: the item schema says why.
    expect(why({ device_id: { S: "pi-1" } })).toMatch(/timestamp/);
  });
});
