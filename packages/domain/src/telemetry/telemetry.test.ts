import { Arbitrary, Either, Schema } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { magnitudeOf, type Sample } from "../sample.js";
import { CommandResponse, DeviceCommand, parseDeviceCommand } from "./device-commands.js";
import { DeviceInfo, DeviceStatus } from "./device-messages.js";
import { InvalidPayload, MAX_LISTED_ISSUES } from "./json.js";
import {
  decodeSensorPayload,
  encodeSampleBatch,
  parseSensorPayload,
  SampleBatch,
  SingleReading,
  samplesOf,
  wellFormedBatch,
  wellFormedReading,
} from "./sensor-payload.js";

const T = 1_731_622_400_000;
const reading = { x: 0.012, y: -0.023, z: 0.984, sequence: 42, timestamp: T };

const rejection = (input: unknown): InvalidPayload => {
  const r = decodeSensorPayload(input);
  if (Either.isRight(r)) throw new Error(`accepted ${JSON.stringify(input)}`);
  return r.left;
};
const paths = (input: unknown) => rejection(input).issues.map((i) => i.path);

describe("single reading (existing devices)", () => {
  it("is accepted as existing devices publish it, magnitude computed when absent", () => {
    const r = decodeSensorPayload(reading);
    expect(Either.getOrThrow(r)).toEqual({
      _tag: "SingleReading",
      reading: { ...reading, magnitude: magnitudeOf(0.012, -0.023, 0.984) },
    });
  });

  it("keeps a reported magnitude within 10% of sqrt(x²+y²+z²), rejects one further off", () => {
    const m = magnitudeOf(reading.x, reading.y, reading.z);
    expect(Either.isRight(decodeSensorPayload({ ...reading, magnitude: m * 1.09 }))).toBe(true);
    expect(
      Either.isRight(decodeSensorPayload({ ...reading, magnitude: Number(m.toFixed(2)) })),
    ).toBe(true);
    const error = rejection({ ...reading, magnitude: m * 1.2 });
    expect(error.issues[0]?.path).toBe("magnitude");
    expect(error.issues[0]?.message).toMatch(/differs from sqrt/);
  });

  it("rejects NaN, infinities and values outside ±16 g, naming the field", () => {
    expect(paths({ ...reading, x: Number.NaN })).toEqual(["x"]);
    expect(paths({ ...reading, y: Number.POSITIVE_INFINITY })).toEqual(["y"]);
    expect(paths({ ...reading, z: -16.01 })).toEqual(["z"]);
    expect(rejection({ ...reading, z: 17 }).issues[0]?.message).toMatch(/±16 g/);
    expect(Either.isRight(decodeSensorPayload({ ...reading, x: 16, y: -16, z: 0 }))).toBe(true);
  });

  it("rejects negative or fractional sequences", () => {
    expect(paths({ ...reading, sequence: -1 })).toEqual(["sequence"]);
    expect(paths({ ...reading, sequence: 1.5 })).toEqual(["sequence"]);
    expect(paths({ ...reading, sequence: "1" })).toEqual(["sequence"]);
  });

  it("rejects timestamps outside 2020..2100 and reads epoch seconds as seconds", () => {
    expect(paths({ ...reading, timestamp: Date.UTC(2019, 11, 31) })).toEqual(["timestamp"]);
    expect(paths({ ...reading, timestamp: Date.UTC(2100, 0, 1) })).toEqual(["timestamp"]);
    expect(paths({ ...reading, timestamp: T + 0.5 })).toEqual(["timestamp"]);
    const seconds = Either.getOrThrow(
      decodeSensorPayload({ ...reading, timestamp: 1_731_622_400.25 }),
    );
    expect(seconds._tag === "SingleReading" && seconds.reading.timestamp).toBe(T + 250);
  });

  it("reports every failing path at once", () => {
    expect(paths({ x: "a", y: 99, sequence: -3 }).sort()).toEqual(["sequence", "x", "y", "z"]);
  });

  it("takes the receive time when the device sent none, and says so", () => {
    const { timestamp: _, ...untimed } = reading;
    const payload = Either.getOrThrow(decodeSensorPayload(untimed));
    expect(samplesOf(payload, T + 5)).toEqual([
      expect.objectContaining({ timestamp: T + 5, timestampSource: "received_at", sequence: 42 }),
    ]);
  });
});

const tenSamples: Array<Sample> = Array.from({ length: 10 }, (_, i) => {
  const x = Number((0.1 * Math.sin(i)).toFixed(3));
  const y = Number((0.05 * Math.cos(i)).toFixed(3));
  const z = Number((0.98 + 0.2 * Math.sin(i / 2)).toFixed(3));
  return {
    timestamp: T + i * 100,
    sequence: 1000 + i,
    x,
    y,
    z,
    magnitude: magnitudeOf(x, y, z),
  } as Sample;
});

describe("native sample batch", () => {
  it("fits 10 samples in well under 1 KB", () => {
    const json = encodeSampleBatch(tenSamples);
    expect(Buffer.byteLength(json)).toBeLessThan(400);
    expect(Either.getOrThrow(parseSensorPayload(json))).toEqual({
      _tag: "SampleBatch",
      samples: tenSamples,
    });
  });

  it("gives every sample its own timestamp and sequence", () => {
    const payload = Either.getOrThrow(
      decodeSensorPayload({
        v: 1,
        t0: T,
        n0: 7,
        s: [
          [0, 0, 0, 0, 1],
          [100, 1, 0, 0, 1, 24.5],
        ],
      }),
    );
    expect(samplesOf(payload, 0)).toEqual([
      { timestamp: T, sequence: 7, x: 0, y: 0, z: 1, magnitude: 1 },
      { timestamp: T + 100, sequence: 8, x: 0, y: 0, z: 1, magnitude: 1, temperature: 24.5 },
    ]);
  });

  it("names the failing sample and field", () => {
    expect(
      rejection({
        v: 1,
        t0: T,
        n0: 0,
        s: [
          [0, 0, 0, 0, 1],
          [10, 1, 0, 40, 1],
        ],
      }).issues.map((i) => i.path),
    ).toContain("s[1][3]");
    expect(paths({ v: 1, t0: T, n0: 0, s: [] })).toEqual(["s"]);
    expect(paths({ v: 2, t0: T, n0: 0, s: [[0, 0, 0, 0, 1]] })).toEqual(["v"]);
    expect(paths({ v: 1, t0: T, n0: -1, s: [[0, 0, 0, 0, 1]] })).toEqual(["n0"]);
    expect(rejection({ v: 1, t0: 5, n0: 0, s: [[0, 0, 0, 0, 1]] }).message).toMatch(
      /2020 and 2100/,
    );
  });

  it("rejects text that is not JSON, with a reason", () => {
    const r = parseSensorPayload("{not json");
    expect(Either.isLeft(r) && r.left.reason).toBe("payload is not JSON");
    const bytes = parseSensorPayload(new Uint8Array([0xff, 0xfe]));
    expect(Either.isLeft(bytes) && bytes.left._tag).toBe("InvalidPayload");
  });
});

/** Values as a sensor would report them: magnitude consistent, time from the device. */
const normalise = (s: Sample): Sample => {
  const { timestampSource: _, ...rest } = s;
  // JSON has no negative zero.
  const [x, y, z] = [s.x + 0, s.y + 0, s.z + 0];
  return { ...rest, x, y, z, magnitude: magnitudeOf(x, y, z) };
};

/** JSON has no negative zero; -0 legitimately comes back as 0. */
const withoutNegativeZero = <A>(a: A): A => JSON.parse(JSON.stringify(a));

describe("decode ∘ encode round-trips for every wire schema", () => {
  const viaJson = <A, I>(schema: Schema.Schema<A, I>, a: A) =>
    Schema.decodeUnknownSync(schema)(JSON.parse(JSON.stringify(Schema.encodeSync(schema)(a))));

  it("single reading", () => {
    fc.assert(
      fc.property(Arbitrary.make(SingleReading), (r) => {
        const [x, y, z] = [r.x + 0, r.y + 0, r.z + 0];
        const a = { ...r, x, y, z, magnitude: magnitudeOf(x, y, z) };
        expect(viaJson(SingleReading, a)).toEqual(withoutNegativeZero(a));
      }),
    );
  });

  it("sample batch", () => {
    fc.assert(
      fc.property(Arbitrary.make(SampleBatch), (b) => {
        const [first, ...rest] = b.samples.map(normalise);
        const a = { samples: [first as Sample, ...rest] as const };
        expect(viaJson(SampleBatch, a)).toEqual(withoutNegativeZero(a));
      }),
    );
  });

  for (const [name, schema] of [
    ["status", DeviceStatus],
    ["device info", DeviceInfo],
    ["command", DeviceCommand],
    ["command response", CommandResponse],
  ] as const) {
    it(name, () => {
      const s = schema as Schema.Schema<unknown, unknown>;
      fc.assert(
        fc.property(Arbitrary.make(s), (a) => {
          expect(viaJson(s, a)).toEqual(withoutNegativeZero(a));
        }),
      );
    });
  }
});

describe("the single-reading fast path", () => {
  const decodeSlow = Schema.decodeUnknownEither(SingleReading);
  const nearMiss = fc.record(
    {
      x: fc.oneof(fc.double(), fc.constant("1")),
      y: fc.double({ min: -17, max: 17 }),
      z: fc.double({ min: -17, max: 17 }),
      magnitude: fc.oneof(fc.double({ min: -1, max: 30 }), fc.constant(Number.NaN)),
      temperature: fc.double({ min: -70, max: 160 }),
      sequence: fc.oneof(fc.integer({ min: -2, max: 10 }), fc.double()),
      timestamp: fc.oneof(
        fc.integer({ min: 1_500_000_000_000, max: 4_200_000_000_000 }),
        fc.double(),
      ),
      extra: fc.anything(),
    },
    { requiredKeys: ["x", "y", "z"] },
  );

  it("accepts only what the schema accepts, with the same result", () => {
    fc.assert(
      fc.property(nearMiss, (input) => {
        const fast = wellFormedReading(input);
        if (fast !== undefined) expect(Either.getOrThrow(decodeSlow(input))).toEqual(fast);
      }),
    );
  });

  it("takes every valid reading with a millisecond timestamp", () => {
    fc.assert(
      fc.property(Arbitrary.make(SingleReading), (r) => {
        const wire = JSON.parse(
          JSON.stringify(
            Schema.encodeSync(SingleReading)({ ...r, magnitude: magnitudeOf(r.x, r.y, r.z) }),
          ),
        );
        expect(wellFormedReading(wire)).toEqual(Either.getOrThrow(decodeSlow(wire)));
      }),
    );
  });
});

describe("the sample-batch fast path", () => {
  const decodeSlow = Schema.decodeUnknownEither(SampleBatch);
  const validWire = Arbitrary.make(SampleBatch).map(
    (b) => JSON.parse(JSON.stringify(Schema.encodeSync(SampleBatch)(b))) as Record<string, unknown>,
  );
  const edge = fc.oneof(
    fc.constantFrom(
      Number.NaN,
      Number.POSITIVE_INFINITY,
      -1,
      0,
      0.5,
      16,
      16.0001,
      -16,
      -16.0001,
      150,
      150.5,
      -60.5,
      2 ** 53,
      Number.MAX_SAFE_INTEGER,
      T,
      Date.UTC(2100, 0, 1),
      "1",
      null,
    ),
    fc.anything(),
  );
  /** A valid batch with one field, sample or value replaced: mostly near misses, some still valid. */
  const nearMiss = fc
    .tuple(validWire, fc.nat(), fc.nat(), fc.nat(7), edge)
    .map(([wire, which, sample, position, value]) => {
      const copy = structuredClone(wire) as { s: Array<Array<unknown>> } & Record<string, unknown>;
      const target = ["v", "t0", "n0", "s", "sample", "value", "value", "value"][which % 8];
      const packed = copy.s[sample % copy.s.length] as Array<unknown>;
      if (target === "sample") copy.s[sample % copy.s.length] = value as Array<unknown>;
      else if (target === "value") {
        if (position < 6) packed[position] = value;
        else packed.push(value);
      } else copy[target as string] = value;
      return copy;
    });

  it("accepts only what the schema accepts, with the same samples", () => {
    fc.assert(
      fc.property(nearMiss, (input) => {
        const fast = wellFormedBatch(input);
        if (fast !== undefined) expect(Either.getOrThrow(decodeSlow(input)).samples).toEqual(fast);
      }),
    );
  });

  it("takes every valid batch", () => {
    fc.assert(
      fc.property(validWire, (wire) => {
        expect(wellFormedBatch(wire)).toEqual(Either.getOrThrow(decodeSlow(wire)).samples);
      }),
    );
  });
});

describe("a rejection stays small enough to keep", () => {
  it("lists at most MAX_LISTED_ISSUES issues, then how many more", () => {
    // 4,000 samples, every value out of range: tens of thousands of issues.
    const payload = {
      v: 1,
      t0: 1_763_625_600_000,
      n0: 0,
      s: Array.from({ length: 4_000 }, (_, i) => [i, 1, 99, 99, 99, 999]),
    };
    const r = decodeSensorPayload(payload);
    expect(Either.isLeft(r)).toBe(true);
    if (Either.isRight(r)) return;
    expect(r.left.issues).toHaveLength(MAX_LISTED_ISSUES + 1);
    expect(r.left.issues.at(-1)?.message).toMatch(/^and \d+ more issues$/);
    expect(JSON.stringify(r.left.issues).length).toBeLessThan(50_000);
  });
});

describe("garbage never throws outside the typed error channel", () => {
  const sensorish = fc.record(
    {
      x: fc.anything(),
      y: fc.anything(),
      z: fc.anything(),
      magnitude: fc.anything(),
      sequence: fc.anything(),
      timestamp: fc.anything(),
      v: fc.anything(),
      t0: fc.anything(),
      n0: fc.anything(),
      s: fc.oneof(
        fc.anything(),
        fc.array(fc.array(fc.anything(), { maxLength: 7 }), { maxLength: 5 }),
      ),
    },
    { requiredKeys: [] },
  );

  it("sensor payloads: anything, near-misses, any bytes and any text", () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything(), sensorish), (input) => {
        const r = decodeSensorPayload(input);
        if (Either.isLeft(r)) expect(r.left).toBeInstanceOf(InvalidPayload);
      }),
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.uint8Array().map((b) => b as Uint8Array),
        ),
        (raw) => {
          const r = parseSensorPayload(raw);
          if (Either.isLeft(r)) expect(r.left._tag).toBe("InvalidPayload");
        },
      ),
    );
  });

  for (const [name, schema] of [
    ["status", DeviceStatus],
    ["device info", DeviceInfo],
    ["command", DeviceCommand],
    ["command response", CommandResponse],
  ] as const) {
    it(`${name}: any value and any JSON decode to a value or a typed error`, () => {
      const decode = Schema.decodeUnknownEither(schema as Schema.Schema<unknown, unknown>, {
        errors: "all",
      });
      fc.assert(
        fc.property(fc.oneof(fc.anything(), fc.jsonValue()), (input) => {
          const r = decode(input);
          if (Either.isLeft(r)) expect(r.left._tag).toBe("ParseError");
        }),
      );
    });
  }

  it("commands", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (raw) => {
        const r = parseDeviceCommand(raw);
        if (Either.isLeft(r)) expect(r.left._tag).toBe("InvalidPayload");
      }),
    );
    const rate = (hz: number) =>
      parseDeviceCommand(
        JSON.stringify({ request_id: "r1", command: "set_sample_rate", sample_rate_hz: hz }),
      );
    const r = rate(1000);
    expect(Either.isLeft(r) && r.left.message).toMatch(/from 1 to 50 Hz, or 100, 200, 400 Hz/);
    // Above 50 Hz only the ADXL345's FIFO rates: any other would lose samples silently.
    for (const hz of [1, 12.5, 50, 100, 200, 400])
      expect([hz, Either.isRight(rate(hz))]).toEqual([hz, true]);
    for (const hz of [0.5, 60, 75, 150, 300, 401])
      expect([hz, Either.isRight(rate(hz))]).toEqual([hz, false]);
  });
});
