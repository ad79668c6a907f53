import { type AttributeValue, type DynamoDBClient, QueryCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import {
  lastKeyBefore,
  type PatientId,
  type Sample,
  type SensorStoreService,
  type StorageUnavailable,
  type TimelineSample,
  type TimeRange,
  UNASSIGNED,
} from "@medusa/domain";
import { Effect, Either } from "effect";
import { decodeTimelineCursor, encodeTimelineCursor, MAX_ITEM_SPAN_MS } from "../segments.js";
import { type TimelineEntry, timelineEntryFromItem } from "./sensor-item.js";
import { PATIENT_TIMELINE_INDEX, type TableNames } from "./tables.js";

const inRange = (t: number, r: TimeRange) => t >= r.start && t < r.end;

/**
 * A patient's samples a page at a time, from the patient-timeline index alone
 * (it projects the samples): by item key, then device, then time within the
 * item; the cursor names the last item and how many of its samples were
 * returned.
 */
export const patientTimeline =
  (options: {
    readonly client: DynamoDBClient;
    readonly tables: TableNames;
    readonly unavailable: (operation: string, e: unknown) => StorageUnavailable;
  }): SensorStoreService["patientTimeline"] =>
  (patientId: PatientId, range, page) =>
    Effect.gen(function* () {
      const { client, tables, unavailable } = options;
      const after =
        page.cursor === undefined ? undefined : yield* decodeTimelineCursor(page.cursor);
      const samples: Array<TimelineSample> = [];
      let nextCursor: string | null = null;
      /** Takes one item's samples; false once the page is full. */
      const take = (s: TimelineEntry): boolean => {
        // Items written before the index was sparse said "UNASSIGNED": nobody's.
        if (s.patientId === UNASSIGNED) return true;
        if (after && (s.key < after.t || (s.key === after.t && s.deviceId < after.d))) return true;
        const skip = after && s.key === after.t && s.deviceId === after.d ? after.n : 0;
        for (let i = skip; i < s.samples.length; i++) {
          const x = s.samples[i] as Sample;
          if (!inRange(x.timestamp, range)) continue;
          if (samples.length === page.limit) {
            nextCursor = encodeTimelineCursor({ t: s.key, d: s.deviceId, n: i });
            return false;
          }
          samples.push({ ...x, deviceId: s.deviceId });
        }
        return true;
      };
      // The index orders items by key only; items of one key (several devices)
      // are taken together, ordered by device, as the cursor expects.
      let group: Array<TimelineEntry> = [];
      const takeGroup = (): boolean => {
        group.sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
        for (const s of group) if (!take(s)) return false;
        group = [];
        return true;
      };
      // Items per Query: a guess first (an item of a 10 s message at 10 Hz
      // holds 100 samples), then just enough for the rest of the page at the
      // samples per item seen so far. Every item read is paid for, so a guess
      // that reads past the page's end would read the next page twice.
      let fetchedItems = 0;
      let fetchedSamples = 0;
      const nextLimit = () => {
        if (fetchedItems === 0) return Math.min(1_000, Math.ceil(page.limit / 100) + 2);
        let pending = 0;
        for (const s of group) pending += s.samples.length;
        const missing = Math.max(0, page.limit + 1 - samples.length - pending);
        const perItem = Math.max(1, fetchedSamples / fetchedItems);
        return Math.min(1_000, Math.ceil(missing / perItem) + 2);
      };
      let start: Record<string, AttributeValue> | undefined;
      do {
        const limit = nextLimit();
        const result = yield* Effect.tryPromise({
          try: () =>
            client.send(
              new QueryCommand({
                TableName: tables.sensor,
                IndexName: PATIENT_TIMELINE_INDEX,
                KeyConditionExpression: "patient_id = :h AND #t BETWEEN :from AND :to",
                ExpressionAttributeNames: { "#t": "timestamp" },
                ExpressionAttributeValues: marshall({
                  ":h": patientId,
                  ":from": Math.max(0, after ? after.t : range.start - MAX_ITEM_SPAN_MS),
                  ":to": lastKeyBefore(range.end),
                }),
                Limit: limit,
                ...(start ? { ExclusiveStartKey: start } : {}),
              }),
            ),
          catch: (e) => unavailable("patientTimeline", e),
        });
        for (const item of result.Items ?? []) {
          const entry = timelineEntryFromItem(item);
          if (Either.isLeft(entry)) return yield* unavailable("patientTimeline", entry.left);
          fetchedItems++;
          fetchedSamples += entry.right.samples.length;
          if (
            group.length > 0 &&
            (group[0] as TimelineEntry).key !== entry.right.key &&
            !takeGroup()
          )
            return { samples, nextCursor };
          group.push(entry.right);
        }
        start = result.LastEvaluatedKey;
      } while (start);
      takeGroup();
      return { samples, nextCursor };
    });
