import {
  type DeviceId,
  deviceId,
  enrich,
  epochMillis,
  type PatientId,
  patientId,
  type SensorStoreService,
  type StoredSegment,
  segmentKey,
  UNASSIGNED,
} from "@medusa/domain";
import { sampleAt, T0 } from "@medusa/domain/testing";
import { Effect, Either } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_ITEM_SPAN_MS } from "../segments.js";

let runs = 0;
const fresh = (label: string): DeviceId =>
  deviceId(`${label}-${process.pid}-${Date.now().toString(36)}-${(runs++).toString(36)}`);
const freshPatient = (label: string): PatientId =>
  patientId(`${label}-${process.pid}-${Date.now().toString(36)}-${(runs++).toString(36)}`);

/**
 * The fixtures' samples are from 2024 (`T0`), so the TTL the domain gives them
 * (30 days after the sample) has long passed, and DynamoDB Local's TTL sweeper
 * deletes such items whenever it happens to run: a test would then read back
 * nothing. Stored fixtures therefore expire a day from now.
 */
const liveTtl = () => Math.ceil(Date.now() / 1000) + 86_400;

/** Ten-sample segments of a device at 10 Hz from `from`, for a patient or nobody. */
const segmentsOf = (
  device: DeviceId,
  patient: PatientId | null,
  from: number,
  batches: number,
  seq0 = 0,
): Array<StoredSegment> =>
  Array.from({ length: batches }, (_, b) => {
    const samples = Array.from({ length: 10 }, (_, i) =>
      sampleAt(from + (b * 10 + i) * 100, seq0 + b * 10 + i),
    );
    const intervals = patient
      ? [
          {
            deviceId: device,
            patientId: patient,
            assignedBy: "n@c.example" as never,
            start: epochMillis(T0 - 86_400_000),
            end: null,
          },
        ]
      : [];
    const [segment] = enrich(device, samples, intervals);
    return {
      ...(segment as NonNullable<typeof segment>),
      key: segmentKey(samples),
      attributedVersion: 1,
      ttl: liveTtl(),
    };
  });

/** The behaviour every sensor store has (the in-memory twin and DynamoDB run the same suite). */
export const sensorStoreContract = (
  name: string,
  store: () => SensorStoreService,
  /** `numRuns`: fast-check's global setting (1,000, or `FC_NUM_RUNS`) unless given; smaller for slow stores. */
  options: { readonly numRuns?: number } = {},
) => {
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);

  describe(`sensor store contract: ${name}`, () => {
    it("writes are idempotent: a redelivered segment overwrites, never duplicates", async () => {
      const device = fresh("idem");
      const segments = segmentsOf(device, freshPatient("p"), T0, 3);
      await run(store().write(segments));
      await run(store().write(segments));
      await run(store().write([segments[1]!]));
      const read = await run(store().deviceSegments(device, { start: T0, end: T0 + 10_000 }));
      expect(read.flatMap((s) => s.samples.map((x) => x.sequence))).toEqual(
        Array.from({ length: 30 }, (_, i) => i),
      );
      expect(read.map((s) => s.attributedVersion)).toEqual([1, 1, 1]);
    });

    it("a write says what became of each segment; a redelivery writes nothing", async () => {
      const device = fresh("outcome");
      const segments = segmentsOf(device, freshPatient("p"), T0, 2);
      expect(await run(store().write(segments))).toEqual(["written", "written"]);
      expect(await run(store().write([segments[1]!, segments[0]!]))).toEqual([
        "unchanged",
        "unchanged",
      ]);
    });

    it("nothing replaces stored samples: a segment under a stored key with other samples is a conflict, and the stored ones stay", async () => {
      const device = fresh("conflict");
      const patient = freshPatient("earlier");
      const [original] = segmentsOf(device, patient, T0, 1);
      await run(store().write([original!]));
      // The same time and sequence, other values, for nobody (a later message, forged or not).
      const forged = {
        ...original!,
        patientId: UNASSIGNED,
        assignmentStart: null,
        samples: original!.samples.map((x) => ({ ...x, x: x.x + 0.5, magnitude: 2 })),
      } as StoredSegment;
      const fresher = segmentsOf(device, null, T0 + 10_000, 1);
      expect(await run(store().write([forged, ...fresher]))).toEqual(["conflict", "written"]);
      // Fewer samples under the same key is a conflict too.
      const shorter = { ...original!, samples: original!.samples.slice(0, 3) };
      expect(await run(store().write([shorter]))).toEqual(["conflict"]);
      const read = await run(store().deviceSegments(device, { start: T0, end: T0 + 1_000 }));
      expect(read).toHaveLength(1);
      expect(read[0]?.patientId).toBe(patient);
      expect(read[0]?.samples).toEqual(original!.samples);
    });

    it("a redelivery of a segment re-attribution has split since is unchanged, not stored twice", async () => {
      const device = fresh("split-redelivery");
      const patient = freshPatient("p");
      const [whole] = segmentsOf(device, null, T0, 1);
      await run(store().write([whole!]));
      const head = { ...whole!, samples: whole!.samples.slice(0, 4), attributedVersion: 2 };
      const tail = {
        ...whole!,
        samples: whole!.samples.slice(4),
        key: segmentKey(whole!.samples.slice(4)),
        patientId: patient,
        attributedVersion: 2,
      };
      await run(store().replace(device, [whole!.key], [head, tail]));
      expect(await run(store().write([whole!]))).toEqual(["unchanged"]);
      const read = await run(store().deviceSegments(device, { start: T0, end: T0 + 1_000 }));
      expect(read.map((s) => [s.patientId, s.samples.length])).toEqual([
        [UNASSIGNED, 4],
        [patient, 6],
      ]);
    });

    it("two messages that start in the same millisecond are both kept (historical readings carry whole seconds)", async () => {
      const device = fresh("same-ms");
      const patient = freshPatient("p");
      // Two readings of one second, sequences 7 and 8: both timed at the second.
      const [a, b] = [7, 8].map((n) => {
        const [one] = segmentsOf(device, patient, T0 + 1_000, 1, n);
        const samples = [{ ...one!.samples[0]!, timestamp: epochMillis(T0 + 1_000) }];
        return { ...one!, samples, key: segmentKey(samples) };
      });
      expect(a!.key).not.toBe(b!.key);
      await run(store().write([a!]));
      await run(store().write([b!, a!]));
      const range = { start: T0 + 1_000, end: T0 + 1_001 };
      const read = await run(store().deviceSegments(device, range));
      expect(read.flatMap((s) => s.samples.map((x) => x.sequence))).toEqual([7, 8]);
      const page = await run(store().patientTimeline(patient, range, { limit: 10 }));
      expect(page.samples.map((x) => x.sequence)).toEqual([7, 8]);
    });

    it("a range read finds an item that starts before the range and reaches into it", async () => {
      const device = fresh("range");
      await run(store().write(segmentsOf(device, null, T0, 2)));
      const read = await run(store().deviceSegments(device, { start: T0 + 500, end: T0 + 600 }));
      expect(read.map((s) => s.key)).toEqual([T0]);
      expect(read[0]?.patientId).toBe(UNASSIGNED);
      expect(
        await run(store().deviceSegments(device, { start: T0 + 2_000, end: T0 + 3_000 })),
      ).toEqual([]);
    });

    it("lastSampleAt: the device's newest sample, whoever it belongs to, whatever order items came in; null for none", async () => {
      const device = fresh("last");
      expect(await run(store().lastSampleAt(device))).toBeNull();
      const [first, second, third] = segmentsOf(device, freshPatient("p"), T0, 3);
      await run(store().write([third!, first!]));
      await run(store().write(segmentsOf(fresh("other"), null, T0 + 60_000, 1)));
      expect(await run(store().lastSampleAt(device))).toBe(T0 + 2_900);
      // A late item, older than the newest: the answer stays.
      await run(store().write([second!]));
      expect(await run(store().lastSampleAt(device))).toBe(T0 + 2_900);
      // Nobody's samples count too: the device was sending.
      await run(store().write(segmentsOf(device, null, T0 + 10_000, 1, 30)));
      expect(await run(store().lastSampleAt(device))).toBe(T0 + 10_900);
    });

    it("deviceSamples reads a device's samples in [start, end) and nothing outside it", async () => {
      const device = fresh("samples");
      const patient = freshPatient("p");
      await run(store().write(segmentsOf(device, patient, T0, 3)));
      await run(store().write(segmentsOf(fresh("other"), patient, T0, 3)));
      // From the middle of the first item to the middle of the third.
      const read = await run(store().deviceSamples(device, { start: T0 + 450, end: T0 + 2_250 }));
      expect(read.map((x) => x.sequence)).toEqual(Array.from({ length: 18 }, (_, i) => i + 5));
      expect(read.every((x) => x.patientId === patient)).toBe(true);
      expect(
        await run(store().deviceSamples(device, { start: T0 + 3_000, end: T0 + 4_000 })),
      ).toEqual([]);
    });

    it("replace splits an item and deletes what it no longer needs", async () => {
      const device = fresh("replace");
      const patient = freshPatient("p");
      const [whole] = segmentsOf(device, null, T0, 1);
      await run(store().write([whole!]));
      const head = { ...whole!, samples: whole!.samples.slice(0, 4), attributedVersion: 2 };
      const tail = {
        ...whole!,
        samples: whole!.samples.slice(4),
        key: segmentKey(whole!.samples.slice(4)),
        patientId: patient,
        attributedVersion: 2,
      };
      await run(store().replace(device, [whole!.key], [head, tail]));
      const read = await run(store().deviceSegments(device, { start: T0, end: T0 + 1_000 }));
      expect(read.map((s) => [s.key, s.patientId, s.samples.length])).toEqual([
        [T0, UNASSIGNED, 4],
        [tail.key, patient, 6],
      ]);
      await run(store().replace(device, [segmentKey(whole!.samples), tail.key], [tail]));
      expect(
        (await run(store().deviceSegments(device, { start: T0, end: T0 + 1_000 }))).map(
          (s) => s.key,
        ),
      ).toEqual([tail.key]);
    });

    it("keeps the receive-time marker of samples the device sent without time", async () => {
      const device = fresh("rx");
      const [segment] = segmentsOf(device, null, T0, 1);
      const marked = {
        ...segment!,
        samples: segment!.samples
          .slice(0, 1)
          .map((x) => ({ ...x, timestampSource: "received_at" as const })),
      };
      await run(store().write([marked]));
      const [read] = await run(store().deviceSegments(device, { start: T0, end: T0 + 1 }));
      expect(read?.samples[0]?.timestampSource).toBe("received_at");
    });

    it("timeline: every sample of the patient in range exactly once across pages; nobody else's", async () => {
      const patient = freshPatient("timeline");
      const a = fresh("tl-a");
      const b = fresh("tl-b");
      const other = fresh("tl-other");
      await run(
        store().write([
          ...segmentsOf(a, patient, T0, 12),
          ...segmentsOf(b, patient, T0 + 50, 12, 1000),
          ...segmentsOf(other, freshPatient("else"), T0, 5),
          ...segmentsOf(a, null, T0 + 20_000, 2, 500),
        ]),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 70 }),
          fc.integer({ min: 0, max: 5_000 }),
          fc.integer({ min: 5_000, max: 13_000 }),
          async (limit, from, to) => {
            const range = { start: T0 + from, end: T0 + to };
            const seen: Array<string> = [];
            let cursor: string | undefined;
            for (let pages = 0; pages < 500; pages++) {
              const page = await run(
                store().patientTimeline(patient, range, { limit, ...(cursor ? { cursor } : {}) }),
              );
              expect(page.samples.length).toBeLessThanOrEqual(limit);
              for (const s of page.samples) {
                expect(s.timestamp >= range.start && s.timestamp < range.end).toBe(true);
                seen.push(`${s.deviceId}/${s.sequence}`);
              }
              if (page.nextCursor === null) break;
              cursor = page.nextCursor;
            }
            const expected = [
              ...Array.from({ length: 120 }, (_, i) => ({ d: a as string, n: i, t: T0 + i * 100 })),
              ...Array.from({ length: 120 }, (_, i) => ({
                d: b as string,
                n: 1000 + i,
                t: T0 + 50 + i * 100,
              })),
            ].filter((x) => x.t >= range.start && x.t < range.end);
            expect([...seen].sort()).toEqual(expected.map((x) => `${x.d}/${x.n}`).sort());
            expect(new Set(seen).size).toBe(seen.length);
          },
        ),
        options.numRuns === undefined ? {} : { numRuns: options.numRuns },
      );
    });

    it("a page of 10,000 samples", async () => {
      const patient = freshPatient("big");
      const device = fresh("big");
      await run(store().write(segmentsOf(device, patient, T0, 1_100)));
      const page = await run(
        store().patientTimeline(patient, { start: T0, end: T0 + 86_400_000 }, { limit: 10_000 }),
      );
      expect(page.samples).toHaveLength(10_000);
      expect(page.nextCursor).not.toBeNull();
      const rest = await run(
        store().patientTimeline(
          patient,
          { start: T0, end: T0 + 86_400_000 },
          { limit: 10_000, cursor: page.nextCursor! },
        ),
      );
      expect(rest.samples).toHaveLength(1_000);
      expect(rest.nextCursor).toBeNull();
    });

    it("a segment spanning more than MAX_ITEM_SPAN_MS comes back split, each piece keyed by segmentKey of its samples", async () => {
      const device = fresh("span");
      const patient = freshPatient("p");
      const [one] = segmentsOf(device, patient, T0, 1);
      // 13 samples 25 s apart: 5 minutes in one segment.
      const samples = Array.from({ length: 13 }, (_, i) => sampleAt(T0 + i * 25_000, 7 + i));
      await run(store().write([{ ...one!, samples, key: segmentKey(samples) }]));
      const range = { start: T0, end: T0 + 10 * 60_000 };
      const read = await run(store().deviceSegments(device, range));
      expect(read.length).toBeGreaterThan(1);
      for (const piece of read) {
        expect(piece.key).toBe(segmentKey(piece.samples));
        const times = piece.samples.map((x) => x.timestamp);
        expect(Math.max(...times) - Math.min(...times)).toBeLessThanOrEqual(MAX_ITEM_SPAN_MS);
      }
      expect(read.flatMap((s) => s.samples.map((x) => x.sequence))).toEqual(
        samples.map((x) => x.sequence),
      );
      const page = await run(store().patientTimeline(patient, range, { limit: 100 }));
      expect(page.samples.map((x) => x.sequence)).toEqual(samples.map((x) => x.sequence));
    });

    it("an unknown or forged cursor is an InvalidCursor, not a crash", async () => {
      const forged = (c: unknown) => Buffer.from(JSON.stringify(c)).toString("base64url");
      for (const cursor of [
        "not-a-cursor",
        forged({ t: 0, d: "x", n: -1 }),
        forged({ t: 0, d: "x", n: 0.5 }),
        forged({ t: 0, d: "x" }),
        forged(null),
        // Well-formed, but no store could have returned them: a key beyond any time, a
        // device id no device has, an index beyond any item.
        forged({ t: 1e300, d: "pi-1", n: 0 }),
        forged({ t: -1e15, d: "pi-1", n: 0 }),
        forged({ t: T0, d: "a/b#", n: 0 }),
        forged({ t: T0, d: "pi-1", n: 1e12 }),
      ]) {
        const r = await Effect.runPromise(
          Effect.either(
            store().patientTimeline(
              freshPatient("c"),
              { start: 0, end: T0 },
              { limit: 10, cursor },
            ),
          ),
        );
        expect(Either.isLeft(r) && r.left._tag).toBe("InvalidCursor");
      }
    });
  });
};
