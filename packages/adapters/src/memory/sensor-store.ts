import {
  type DeviceId,
  type PatientId,
  SegmentsNotWritten,
  type SensorStoreService,
  type StoredSegment,
  samplesWithin,
  type TimelineSample,
  type TimeRange,
} from "@medusa/domain";
import { Effect } from "effect";
import {
  boundSpan,
  decodeTimelineCursor,
  encodeTimelineCursor,
  newestSampleOf,
  writeIfAbsent,
} from "../segments.js";

export interface InMemorySensorStore extends SensorStoreService {
  /** Every stored segment, ordered by device and key (for tests). */
  readonly all: () => ReadonlyArray<StoredSegment>;
}

const inRange = (t: number, r: TimeRange) => t >= r.start && t < r.end;

/**
 * The sensor store's in-memory twin: segments keyed by (device, key),
 * idempotent upserts, and the same timeline paging as the DynamoDB store:
 * samples ordered by segment key (then device), a segment's samples in stored
 * order; the cursor (the same codec) names the last segment and how many of
 * its samples were returned. Segments are keyed and split as DynamoDB items
 * are (`boundSpan`), so what a caller reads back is what DynamoDB would give.
 */
export const makeInMemorySensorStore = (): InMemorySensorStore => {
  const devices = new Map<DeviceId, Map<number, StoredSegment>>();
  const of = (deviceId: DeviceId) => {
    let m = devices.get(deviceId);
    if (!m) {
      m = new Map();
      devices.set(deviceId, m);
    }
    return m;
  };
  const write: SensorStoreService["write"] = (segments) =>
    writeIfAbsent(segments, {
      put: (piece) =>
        Effect.sync(() => {
          const m = of(piece.deviceId);
          const existing = m.get(piece.key);
          if (existing) return existing;
          m.set(piece.key, piece);
          return "written" as const;
        }),
      samples: (deviceId, range) => deviceSamples(deviceId, range),
      throttled: (keys) => new SegmentsNotWritten({ failed: keys, reason: "never throttled" }),
    });
  const sorted = (m: Map<number, StoredSegment>) => [...m.values()].sort((a, b) => a.key - b.key);
  const deviceSegments: SensorStoreService["deviceSegments"] = (deviceId, range) =>
    Effect.sync(() =>
      sorted(of(deviceId)).filter((s) => s.samples.some((x) => inRange(x.timestamp, range))),
    );
  const deviceSamples: SensorStoreService["deviceSamples"] = (deviceId, range) =>
    Effect.map(deviceSegments(deviceId, range), (segments) => samplesWithin(segments, range));
  return {
    write,
    deviceSegments,
    deviceSamples,
    lastSampleAt: (deviceId) =>
      Effect.sync(() => {
        const newest = sorted(of(deviceId)).at(-1);
        return newest ? newestSampleOf(newest) : null;
      }),
    replace: (deviceId, remove, add) =>
      Effect.sync(() => {
        const m = of(deviceId);
        const written = boundSpan(add);
        for (const s of written) m.set(s.key, s);
        const kept = new Set<number>(written.map((s) => s.key));
        for (const key of remove) if (!kept.has(key)) m.delete(key);
      }),
    patientTimeline: (patientId: PatientId, range, page) =>
      Effect.gen(function* () {
        const after =
          page.cursor === undefined ? undefined : yield* decodeTimelineCursor(page.cursor);
        const segments = [...devices.values()]
          .flatMap((m) => [...m.values()])
          .filter((s) => s.patientId === patientId)
          .sort(
            (a, b) =>
              a.key - b.key || (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0),
          );
        const samples: Array<TimelineSample> = [];
        for (const s of segments) {
          if (after && (s.key < after.t || (s.key === after.t && s.deviceId < after.d))) continue;
          const skip = after && s.key === after.t && s.deviceId === after.d ? after.n : 0;
          for (let i = skip; i < s.samples.length; i++) {
            const x = s.samples[i]!;
            if (!inRange(x.timestamp, range)) continue;
            if (samples.length === page.limit) {
              return {
                samples,
                nextCursor: encodeTimelineCursor({ t: s.key, d: s.deviceId, n: i }),
              };
            }
            samples.push({ ...x, deviceId: s.deviceId });
          }
        }
        return { samples, nextCursor: null };
      }),
    all: () => [...devices.values()].flatMap((m) => sorted(m)),
  };
};
