import { Either } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AssignmentEvent, replay } from "./assignment.js";
import { decide } from "./decide.js";
import { DAY_MS, enrich, type Segment, UNASSIGNED } from "./enrichment.js";
import { type DeviceId, deviceId, epochMillis, patientId } from "./ids.js";
import { type AssignmentInterval, intervalsOf } from "./projections.js";
import type { Sample } from "./sample.js";
import { commandsFrom, sampleAt, scenario, T0 } from "./testing/arbitraries.js";

/** A valid history for one device, built by running generated commands through the decider. */
const history = scenario.map(({ devices, patients, steps }) => {
  const device = devices[0] as DeviceId;
  const log: Array<AssignmentEvent> = [];
  for (const command of commandsFrom([device], patients, steps)) {
    const decision = decide(command, replay(log));
    if (Either.isRight(decision)) log.push(...decision.right);
  }
  return { device, intervals: intervalsOf(log) };
});

/** Sample times that hit boundaries exactly (start, end, ±1 ms) as well as anywhere. */
const timesFor = (intervals: ReadonlyArray<AssignmentInterval>) => {
  const edges = intervals.flatMap((i) => [
    i.start,
    i.start - 1,
    i.start + 1,
    ...(i.end === null ? [] : [i.end, i.end - 1]),
  ]);
  const anywhere = fc.integer({ min: T0 - 3_600_000, max: T0 + 40 * 3_600_000 });
  return fc.array(edges.length > 0 ? fc.oneof(anywhere, fc.constantFrom(...edges)) : anywhere, {
    maxLength: 60,
  });
};

const cases = history.chain((h) =>
  timesFor(h.intervals).map((times) => ({
    ...h,
    samples: times.map((t, n) => sampleAt(Math.max(T0 - 3_600_000, t), n)),
  })),
);

/** Brute force: scan every interval. */
const oracle = (intervals: ReadonlyArray<AssignmentInterval>, t: number) =>
  intervals.find((i) => i.start <= t && (i.end === null || t < i.end));

const ownerOf = (segment: Segment) => `${segment.patientId}@${segment.assignmentStart}`;

describe("enrichment by event time", () => {
  it("invariant 7: a sample at t belongs to the patient whose interval contains t, or to no one", () => {
    fc.assert(
      fc.property(cases, ({ device, intervals, samples }) => {
        for (const segment of enrich(device, samples, intervals)) {
          for (const sample of segment.samples) {
            const owner = oracle(intervals, sample.timestamp);
            expect(segment.patientId).toBe(owner ? owner.patientId : UNASSIGNED);
            expect(segment.assignmentStart).toBe(owner ? owner.start : null);
            expect(segment.patientName).toBe(owner?.patientName ?? null);
          }
        }
      }),
    );
  });

  it("invariant 7: arrival order and chunking never change a sample's patient", () => {
    fc.assert(
      fc.property(
        cases.chain((c) =>
          fc.record({
            c: fc.constant(c),
            order: fc.shuffledSubarray(c.samples, { minLength: c.samples.length }),
            cut: fc.nat(60),
          }),
        ),
        ({ c, order, cut }) => {
          const owners = (samples: ReadonlyArray<Sample>) => {
            const m = new Map<number, string>();
            for (const s of enrich(c.device, samples, c.intervals)) {
              for (const x of s.samples) m.set(x.sequence, ownerOf(s));
            }
            return m;
          };
          const inOrder = owners(c.samples);
          const shuffled = owners(order);
          const chunked = new Map([...owners(order.slice(0, cut)), ...owners(order.slice(cut))]);
          expect(shuffled).toEqual(inOrder);
          expect(chunked).toEqual(inOrder);
        },
      ),
    );
  });

  it("segments: concatenated they are the input in order, each homogeneous, neighbours differ", () => {
    fc.assert(
      fc.property(cases, ({ device, intervals, samples }) => {
        const segments = enrich(device, samples, intervals);
        expect(segments.flatMap((s) => s.samples)).toEqual(samples);
        expect(segments.every((s) => s.samples.length > 0)).toBe(true);
        segments.forEach((segment, k) => {
          expect(segment.deviceId).toBe(device);
          for (const sample of segment.samples) {
            expect(oracle(intervals, sample.timestamp)?.start ?? null).toBe(
              segment.assignmentStart,
            );
          }
          const next = segments[k + 1];
          if (next) expect(ownerOf(next)).not.toBe(ownerOf(segment));
        });
      }),
    );
  });

  it("ttl is 30 days (configurable) after the segment's latest sample, in epoch seconds", () => {
    fc.assert(
      fc.property(
        cases,
        fc.integer({ min: 1, max: 365 }),
        ({ device, intervals, samples }, days) => {
          for (const [segments, retention] of [
            [enrich(device, samples, intervals), 30 * DAY_MS],
            [enrich(device, samples, intervals, { retentionMs: days * DAY_MS }), days * DAY_MS],
          ] as const) {
            for (const s of segments) {
              const latest = Math.max(...s.samples.map((x) => x.timestamp));
              expect(s.ttl).toBe(Math.ceil((latest + retention) / 1000));
            }
          }
        },
      ),
    );
  });

  it("splits a batch where a reassignment falls inside it, boundary sample to the new patient", () => {
    const device = deviceId("medusa-pi-07");
    const a = patientId("P-A");
    const b = patientId("P-B");
    const intervals: ReadonlyArray<AssignmentInterval> = [
      {
        deviceId: device,
        patientId: a,
        patientName: "A",
        assignedBy: "n@c.example" as AssignmentInterval["assignedBy"],
        start: epochMillis(T0),
        end: epochMillis(T0 + 500),
      },
      {
        deviceId: device,
        patientId: b,
        assignedBy: "n@c.example" as AssignmentInterval["assignedBy"],
        start: epochMillis(T0 + 500),
        end: null,
      },
    ];
    const samples = [T0 - 100, T0, T0 + 100, T0 + 499, T0 + 500, T0 + 600].map((t, n) =>
      sampleAt(t, n),
    );
    const segments = enrich(device, samples, intervals);
    expect(
      segments.map((s) => [s.patientId, s.patientName, s.samples.map((x) => x.sequence)]),
    ).toEqual([
      [UNASSIGNED, null, [0]],
      [a, "A", [1, 2, 3]],
      [b, null, [4, 5]],
    ]);
  });

  it("returns no segment for no samples", () => {
    expect(enrich(deviceId("d"), [], [])).toEqual([]);
  });
});
