import {
  type AttributeValue,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  lastKeyBefore,
  SegmentsNotWritten,
  type SensorStoreService,
  StorageUnavailable,
  type StoredSegment,
  samplesWithin,
  type TimeRange,
} from "@medusa/domain";
import { Effect, Either } from "effect";
import { boundSpan, MAX_ITEM_SPAN_MS, newestSampleOf, writeIfAbsent } from "../segments.js";
import { queryAll, reasonOf } from "./query.js";
import { segmentFromItem, segmentItem, segmentItemKey } from "./sensor-item.js";
import type { TableNames } from "./tables.js";
import { patientTimeline } from "./timeline.js";

export interface SensorStoreOptions {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  /** How long `write` keeps retrying unprocessed or throttled items before it reports them. */
  readonly writeDeadlineMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The clock the write deadline is measured on (tests move it with `sleep`). */
  readonly now?: () => number;
  /** Jitter source for the backoff (tests pin it). */
  readonly random?: () => number;
}

const unavailable = (operation: string, e: unknown) =>
  new StorageUnavailable({ store: "sensor table", operation, reason: reasonOf(e) });

/**
 * What DynamoDB throws when it throttles a whole request (after the SDK's own
 * retries). The chunk was not written; it is retried like unprocessed items.
 */
const THROTTLING = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
]);
const throttled = (e: unknown): e is Error => e instanceof Error && THROTTLING.has(e.name);

/**
 * Packed motion samples on DynamoDB: one item per segment, key
 * `(device_id, timestamp)` (the segment's key); the patient timeline through
 * `patient-timeline-index`. The ingest's writes are conditional (an item is
 * written only where its key is free, so nothing replaces stored samples);
 * re-attribution's are BatchWriteItem, 25 per call.
 */
export const makeDynamoSensorStore = (options: SensorStoreOptions): SensorStoreService => {
  const { client, tables } = options;
  const deadlineMs = options.writeDeadlineMs ?? 10_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;

  /**
   * Sends write requests 25 at a time. What DynamoDB leaves unprocessed, or
   * refuses whole as throttled, is sent again with backoff until the deadline.
   */
  const batchWrite = (operation: string, requests: ReadonlyArray<WriteRequest>) =>
    Effect.tryPromise({
      try: async () => {
        const deadline = now() + deadlineMs;
        let pending = [...requests];
        let attempt = 0;
        let lastThrottle = "UnprocessedItems";
        while (pending.length > 0) {
          const next: Array<WriteRequest> = [];
          for (let i = 0; i < pending.length; i += 25) {
            const chunk = pending.slice(i, i + 25);
            try {
              const out = await client.send(
                new BatchWriteItemCommand({ RequestItems: { [tables.sensor]: chunk } }),
              );
              const unprocessed = out.UnprocessedItems?.[tables.sensor] ?? [];
              if (unprocessed.length > 0) lastThrottle = "UnprocessedItems";
              next.push(...unprocessed);
            } catch (e) {
              if (!throttled(e)) throw e;
              lastThrottle = e.name;
              next.push(...chunk);
            }
          }
          pending = next;
          if (pending.length === 0) break;
          if (now() >= deadline) return { failed: pending, lastThrottle };
          attempt++;
          await sleep(random() * Math.min(2_000, 50 * 2 ** attempt));
        }
        return { failed: [], lastThrottle };
      },
      catch: (e) => unavailable(operation, e),
    }).pipe(
      Effect.flatMap(({ failed, lastThrottle }) =>
        failed.length === 0
          ? Effect.void
          : Effect.fail(
              new SegmentsNotWritten({
                failed: failed.map((r) => {
                  const key = unmarshall(
                    (r.PutRequest?.Item ?? r.DeleteRequest?.Key) as Record<string, AttributeValue>,
                  );
                  return { deviceId: String(key.device_id), key: Number(key.timestamp) };
                }),
                reason: `DynamoDB throttled them for ${deadlineMs} ms (last: ${lastThrottle})`,
              }),
            ),
      ),
    );

  const puts = (segments: ReadonlyArray<StoredSegment>) => {
    // One BatchWriteItem may not name a key twice; the last write of a key wins.
    const byKey = new Map<string, StoredSegment>();
    for (const s of boundSpan(segments)) byKey.set(`${s.deviceId}\u0000${s.key}`, s);
    return [...byKey.values()];
  };

  /**
   * Writes one item only where its key is free. A key that holds an item
   * already answers with that item (`ReturnValuesOnConditionCheckFailure`),
   * so telling a redelivery from a conflict costs no read in the common case.
   * Throttling is retried with backoff until the deadline.
   */
  const putIfAbsent = async (
    segment: StoredSegment,
    deadline: number,
  ): Promise<{ readonly stored: Record<string, AttributeValue> | null } | "throttled"> => {
    const item = segmentItem(segment);
    for (let attempt = 0; ; attempt++) {
      try {
        await client.send(
          new PutItemCommand({
            TableName: tables.sensor,
            Item: item,
            ConditionExpression: "attribute_not_exists(device_id)",
            ReturnValuesOnConditionCheckFailure: "ALL_OLD",
          }),
        );
        return { stored: null };
      } catch (e) {
        if (e instanceof ConditionalCheckFailedException) {
          if (e.Item) return { stored: e.Item };
          // An emulator that does not return the item: read it.
          const got = await client.send(
            new GetItemCommand({
              TableName: tables.sensor,
              Key: segmentItemKey(segment),
              ConsistentRead: true,
            }),
          );
          return { stored: got.Item ?? null };
        }
        if (!throttled(e)) throw e;
        if (now() >= deadline) return "throttled";
        await sleep(random() * Math.min(2_000, 50 * 2 ** (attempt + 1)));
      }
    }
  };

  const queryItems = (
    operation: string,
    input: { index?: string; hashKey: string; hashValue: string; from: number; to: number },
  ) =>
    queryAll(
      client,
      {
        TableName: tables.sensor,
        ...(input.index ? { IndexName: input.index } : { ConsistentRead: true }),
        KeyConditionExpression: `${input.hashKey} = :h AND #t BETWEEN :from AND :to`,
        ExpressionAttributeNames: { "#t": "timestamp" },
        ExpressionAttributeValues: marshall({
          ":h": input.hashValue,
          ":from": input.from,
          ":to": input.to,
        }),
      },
      segmentFromItem,
      (e) => unavailable(operation, e),
    );

  const inRange = (t: number, r: TimeRange) => t >= r.start && t < r.end;

  const deviceSegments: SensorStoreService["deviceSegments"] = (deviceId, range) =>
    queryItems("deviceSegments", {
      hashKey: "device_id",
      hashValue: deviceId,
      from: Math.max(0, range.start - MAX_ITEM_SPAN_MS),
      to: lastKeyBefore(range.end),
    }).pipe(
      Effect.map((items) =>
        items.filter((s) => s.samples.some((x) => inRange(x.timestamp, range))),
      ),
    );

  const deviceSamples: SensorStoreService["deviceSamples"] = (deviceId, range) =>
    Effect.map(deviceSegments(deviceId, range), (segments) => samplesWithin(segments, range));

  return {
    write: (segments) =>
      writeIfAbsent(segments, {
        put: (piece) =>
          Effect.tryPromise({
            try: () => putIfAbsent(piece, now() + deadlineMs),
            catch: (e) => unavailable("write", e),
          }).pipe(
            Effect.flatMap(
              (r): Effect.Effect<"written" | "throttled" | StoredSegment, StorageUnavailable> => {
                if (r === "throttled") return Effect.succeed("throttled");
                if (r.stored === null) return Effect.succeed("written");
                const existing = segmentFromItem(r.stored);
                return Either.isLeft(existing)
                  ? Effect.fail(unavailable("write", existing.left))
                  : Effect.succeed(existing.right);
              },
            ),
          ),
        samples: (deviceId, range) => deviceSamples(deviceId, range),
        throttled: (keys) =>
          new SegmentsNotWritten({
            failed: keys,
            reason: `DynamoDB throttled them for ${deadlineMs} ms`,
          }),
      }),
    deviceSegments,
    deviceSamples,
    lastSampleAt: (deviceId) =>
      Effect.tryPromise({
        try: () =>
          client.send(
            new QueryCommand({
              TableName: tables.sensor,
              KeyConditionExpression: "device_id = :d",
              ExpressionAttributeValues: marshall({ ":d": deviceId }),
              ScanIndexForward: false,
              Limit: 1,
              ConsistentRead: true,
            }),
          ),
        catch: (e) => unavailable("lastSampleAt", e),
      }).pipe(
        Effect.flatMap((out) => {
          const item = out.Items?.[0];
          if (item === undefined) return Effect.succeed(null);
          const segment = segmentFromItem(item);
          return Either.isLeft(segment)
            ? Effect.fail(unavailable("lastSampleAt", segment.left))
            : Effect.succeed(newestSampleOf(segment.right));
        }),
      ),
    replace: (deviceId, remove, add) =>
      Effect.gen(function* () {
        const written = puts(add);
        yield* batchWrite(
          "replace",
          written.map((s) => ({ PutRequest: { Item: segmentItem(s) } })),
        );
        const kept = new Set<number>(written.map((s) => s.key));
        const deletes = [...new Set(remove)].filter((k) => !kept.has(k));
        yield* batchWrite(
          "replace",
          deletes.map((key) => ({
            DeleteRequest: { Key: marshall({ device_id: deviceId, timestamp: key }) },
          })),
        );
      }),
    patientTimeline: patientTimeline({ client, tables, unavailable }),
  };
};
