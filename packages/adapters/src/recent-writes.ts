import type { SegmentWrite, SensorStoreService, StoredSegment } from "@medusa/domain";
import { Effect } from "effect";

/**
 * A sensor store that remembers the keys and attribution of what it wrote
 * lately, so a message delivered twice to one process (QoS 1 redelivery) is
 * not written twice. Skipping is safe: the item would be written with exactly
 * the content it already has, unless re-attribution has since rewritten it,
 * with newer intervals.
 */
export const rememberingRecentWrites = (
  store: SensorStoreService,
  capacity = 20_000,
): SensorStoreService => {
  const seen = new Map<string, string>();
  const key = (s: StoredSegment) => `${s.deviceId}\u0000${s.key}`;
  const signature = (s: StoredSegment) =>
    `${s.samples.length}/${s.samples[0]?.sequence}/${s.samples.at(-1)?.sequence}/${s.patientId}/${s.assignmentStart}/${s.attributedVersion}`;
  return {
    ...store,
    write: (segments) =>
      Effect.gen(function* () {
        const repeat = segments.map((s) => seen.get(key(s)) === signature(s));
        const fresh = segments.filter((_, i) => !repeat[i]);
        const outcomes = fresh.length > 0 ? yield* store.write(fresh) : [];
        for (const s of fresh) {
          seen.delete(key(s));
          seen.set(key(s), signature(s));
        }
        while (seen.size > capacity) seen.delete(seen.keys().next().value as string);
        let next = 0;
        return repeat.map((r): SegmentWrite => (r ? "unchanged" : (outcomes[next++] ?? "written")));
      }),
  };
};
