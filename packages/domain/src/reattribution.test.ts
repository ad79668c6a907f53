import { Either } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AssignmentEvent, replay } from "./assignment.js";
import { attribute, type DeviceIntervals, type StoredSegment } from "./attribution.js";
import { decide } from "./decide.js";
import type { DeviceId } from "./ids.js";
import { intervalsOf } from "./projections.js";
import { changedFrom, reattributionPlan } from "./reattribution.js";
import { clinicDays, commandsFrom, sampleAt, scenario, T0 } from "./testing/arbitraries.js";

const HOUR = 3_600_000;

/**
 * A device's stored items as the sensor store keeps them: by key, a write
 * overwriting, `replace` writing the pieces and deleting what they left.
 */
const store = () => {
  const items = new Map<number, StoredSegment>();
  return {
    write: (segments: ReadonlyArray<StoredSegment>) => {
      for (const s of segments) items.set(s.key, s);
    },
    /** The items holding a sample from `from` on (the store's `deviceSegments`). */
    from: (from: number) =>
      [...items.values()].filter((s) => s.samples.some((x) => x.timestamp >= from)),
    replace: (remove: ReadonlyArray<number>, add: ReadonlyArray<StoredSegment>) => {
      for (const s of add) items.set(s.key, s);
      const kept = new Set<number>(add.map((s) => s.key));
      for (const key of remove) if (!kept.has(key)) items.delete(key);
    },
    all: () => [...items.values()],
  };
};

describe("nothing stays mis-attributed, corrections of the record included", () => {
  it("ingest interleaved with commands and corrections, each commit re-attributing from changedFrom: every sample ends with the patient whose corrected interval covers it", () => {
    fc.assert(
      fc.property(
        fc.oneof(scenario, clinicDays),
        fc.uniqueArray(fc.integer({ min: T0 - HOUR, max: T0 + 30 * HOUR }), { maxLength: 120 }),
        fc.array(fc.nat(), { maxLength: 60 }),
        ({ devices, patients, steps }, times, cuts) => {
          const device = devices[0] as DeviceId;
          const commands = commandsFrom([device], patients, steps);
          const log: Array<AssignmentEvent> = [];
          let version = 0;
          const stored = store();
          const current = (): DeviceIntervals => ({ version, intervals: intervalsOf(log) });
          // The samples arrive in batches between commands (late ones included: any time).
          const batches: Array<Array<number>> = commands.map(() => []);
          batches.push([]);
          times.forEach((t, n) => {
            batches[(cuts[n] ?? n) % batches.length]?.push(t);
          });
          let sequence = 0;
          const ingest = (batch: ReadonlyArray<number>) => {
            const samples = [...batch].sort((a, b) => a - b).map((t) => sampleAt(t, sequence++));
            if (samples.length > 0) stored.write(attribute(device, samples, current()));
          };
          commands.forEach((command, k) => {
            ingest(batches[k] ?? []);
            const decision = decide(command, replay(log));
            if (Either.isLeft(decision)) return;
            log.push(...decision.right);
            version++;
            // The commit's re-attribution: from the earliest effective time it changes.
            const plan = reattributionPlan(stored.from(changedFrom(decision.right)), current());
            stored.replace(plan.remove, plan.add);
          });
          ingest(batches.at(-1) ?? []);

          const intervals = intervalsOf(log);
          const owner = (t: number) =>
            intervals.find((i) => i.start <= t && (i.end === null || t < i.end));
          const seen: Array<number> = [];
          for (const item of stored.all()) {
            for (const s of item.samples) {
              seen.push(s.timestamp);
              const o = owner(s.timestamp);
              expect([item.patientId, item.assignmentStart, item.patientName]).toEqual(
                o ? [o.patientId, o.start, o.patientName ?? null] : ["UNASSIGNED", null, null],
              );
            }
          }
          // Each sample exactly once.
          expect(seen.sort((a, b) => a - b)).toEqual([...times].sort((a, b) => a - b));
        },
      ),
    );
  });
});
