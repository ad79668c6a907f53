import { dynamoLayer, segmentFromStreamImage, streamImageItem } from "@medusa/adapters";
import {
  type ActivityOptions,
  type ActivityRefreshReport,
  Clock,
  changeOf,
  DEFAULT_EPOCH_MS,
  type DeadLetter,
  DeadLetters,
  type DeviceId,
  epochMillis,
  refreshActivity,
  type SampleChange,
} from "@medusa/domain";
import { Effect, Either, type Layer, ManagedRuntime } from "effect";
import { type LambdaConfig, settingsFromEnv } from "../config.js";
import { runOrReject, type Services, servicesLayer } from "../services.js";

type Env = Readonly<Record<string, string | undefined>>;

/**
 * A record of the sensor table's stream as Lambda delivers it (the Streams
 * API's JSON: images as attribute values, binary as base64). Read
 * defensively: any part may be missing or malformed.
 */
export interface SensorStreamRecord {
  readonly eventID?: string;
  readonly eventName?: string;
  /** Present on deletions DynamoDB's TTL made (`Service`, `dynamodb.amazonaws.com`). */
  readonly userIdentity?: { readonly type?: string; readonly principalId?: string };
  readonly dynamodb?: {
    readonly ApproximateCreationDateTime?: number;
    readonly SequenceNumber?: string;
    readonly Keys?: unknown;
    readonly NewImage?: unknown;
    readonly OldImage?: unknown;
  };
}

export interface SensorStreamEvent {
  readonly Records: ReadonlyArray<SensorStreamRecord>;
}

/** Lambda's partial batch response (`ReportBatchItemFailures`): the records to retry from. */
export interface StreamBatchResponse {
  readonly batchItemFailures: ReadonlyArray<{ readonly itemIdentifier: string }>;
}

/** What one batch did, besides the records it reports for retry. */
export interface ActivityStreamOutcome extends StreamBatchResponse {
  readonly refreshed: ActivityRefreshReport;
  /** Records that cannot be read: kept in the dead letters with the reason, not retried. */
  readonly deadLettered: number;
  /** Deletions by DynamoDB's TTL: the activity blocks expire by their own TTL. */
  readonly expired: number;
}

/** Where a record's samples were before and after it: the sample ranges it changed. */
type Reading =
  | {
      readonly _tag: "Changed";
      readonly deviceId: DeviceId;
      readonly changes: ReadonlyArray<SampleChange>;
    }
  | { readonly _tag: "Expired" }
  | { readonly _tag: "Malformed"; readonly reason: string; readonly clientId: string | null };

const isTtlDeletion = (r: SensorStreamRecord) =>
  r.eventName === "REMOVE" &&
  r.userIdentity?.type === "Service" &&
  r.userIdentity.principalId === "dynamodb.amazonaws.com";

/** The device a record's keys name, when they can be read (for the dead letter). */
const deviceOfKeys = (keys: unknown): string | null => {
  const item = streamImageItem(keys, "Keys");
  const id = Either.isRight(item) ? item.right.device_id?.S : undefined;
  return id ?? null;
};

const readRecord = (r: SensorStreamRecord): Reading => {
  if (isTtlDeletion(r)) return { _tag: "Expired" };
  const malformed = (reason: string): Reading => ({
    _tag: "Malformed",
    reason: `unreadable sensor stream record: ${reason}`,
    clientId: deviceOfKeys(r.dynamodb?.Keys),
  });
  const images: ReadonlyArray<["NewImage" | "OldImage", unknown]> =
    r.eventName === "INSERT"
      ? [["NewImage", r.dynamodb?.NewImage]]
      : r.eventName === "MODIFY"
        ? [
            ["OldImage", r.dynamodb?.OldImage],
            ["NewImage", r.dynamodb?.NewImage],
          ]
        : r.eventName === "REMOVE"
          ? [["OldImage", r.dynamodb?.OldImage]]
          : [];
  if (images.length === 0) return malformed(`event ${String(r.eventName)}`);
  const changes: Array<SampleChange> = [];
  let deviceId: DeviceId | undefined;
  for (const [name, image] of images) {
    // The view must carry the images (NEW_AND_OLD_IMAGES): keys alone do not say where the samples lie.
    if (image === undefined) return malformed(`${r.eventName} without ${name}`);
    const segment = segmentFromStreamImage(image);
    if (Either.isLeft(segment)) return malformed(`${name}: ${segment.left}`);
    deviceId = segment.right.deviceId;
    if (segment.right.samples.length > 0) changes.push(changeOf(segment.right));
  }
  return deviceId === undefined ? malformed("no image") : { _tag: "Changed", deviceId, changes };
};

const emptyReport: ActivityRefreshReport = {
  devices: 0,
  blocks: 0,
  written: 0,
  removed: 0,
  unchanged: 0,
};

/**
 * One batch of the sensor table's stream: the records' sample ranges,
 * grouped by device, refresh the activity blocks around them once each
 * (`refreshActivity`: every patient's blocks of that device, from the
 * samples stored now, so an item that moved from one patient to another
 * recomputes both). Idempotent: the refresh reads the tables, not the images,
 * and writes only what differs, so a redelivered batch changes nothing.
 * A device whose refresh fails reports its records as batch item failures
 * (Lambda retries from the lowest; the other devices' work stands). A record
 * that cannot be read is kept in the dead letters with the reason and not
 * retried (it would fail again and hold the shard); it is reported only when
 * even the dead letter cannot be written.
 */
export const activityStreamHandler = (
  options: ActivityOptions,
  layer: Layer.Layer<Services>,
  settings: { readonly concurrency?: number } = {},
) => {
  const runtime = ManagedRuntime.make(layer);
  return (event: SensorStreamEvent): Promise<ActivityStreamOutcome> =>
    runOrReject(
      runtime,
      Effect.gen(function* () {
        const failures = new Set<string>();
        const fail = (r: SensorStreamRecord) => {
          const id = r.dynamodb?.SequenceNumber;
          if (id) failures.add(id);
        };
        const byDevice = new Map<
          DeviceId,
          { changes: Array<SampleChange>; records: Array<SensorStreamRecord> }
        >();
        let deadLettered = 0;
        let expired = 0;
        const letters = yield* DeadLetters;
        const now = yield* (yield* Clock).now;
        for (const record of event.Records) {
          const reading = readRecord(record);
          if (reading._tag === "Expired") {
            expired++;
            continue;
          }
          if (reading._tag === "Malformed") {
            // When the stream wrote it, not now: a redelivered record overwrites its letter.
            const at = record.dynamodb?.ApproximateCreationDateTime;
            const letter: DeadLetter = {
              receivedAt: epochMillis(typeof at === "number" && at > 0 ? at * 1000 : now),
              source: "sensor-stream",
              topic: null,
              clientId: reading.clientId,
              payload: JSON.stringify(record),
              payloadEncoding: "utf8",
              reason: reading.reason,
              issues: [],
            };
            const kept = yield* Effect.either(letters.put(letter));
            if (Either.isLeft(kept)) fail(record);
            else deadLettered++;
            continue;
          }
          const entry = byDevice.get(reading.deviceId) ?? { changes: [], records: [] };
          entry.changes.push(...reading.changes);
          entry.records.push(record);
          byDevice.set(reading.deviceId, entry);
        }
        const reports = yield* Effect.forEach(
          [...byDevice.values()],
          ({ changes, records }) =>
            refreshActivity(changes, options).pipe(
              Effect.tapError((e) =>
                Effect.sync(() => {
                  console.error(
                    JSON.stringify({ level: "error", msg: "activity refresh failed", reason: e }),
                  );
                  for (const r of records) fail(r);
                }),
              ),
              Effect.orElseSucceed(() => emptyReport),
            ),
          { concurrency: settings.concurrency ?? 4 },
        );
        const refreshed = reports.reduce(
          (a, r) => ({
            devices: a.devices + r.devices,
            blocks: a.blocks + r.blocks,
            written: a.written + r.written,
            removed: a.removed + r.removed,
            unchanged: a.unchanged + r.unchanged,
          }),
          emptyReport,
        );
        return {
          batchItemFailures: [...failures].map((itemIdentifier) => ({ itemIdentifier })),
          refreshed,
          deadLettered,
          expired,
        };
      }),
    );
};

/** The activity options a deployment computes with: 60 s epochs, the samples' retention. */
export const activityOptionsOf = (config: LambdaConfig): ActivityOptions => ({
  epochMs: DEFAULT_EPOCH_MS,
  retentionMs: config.retentionMs,
});

/** The activity handler on DynamoDB as the environment says (`settingsFromEnv`). */
export const makeActivityHandler = (env: Env) => {
  const { config, dynamo } = settingsFromEnv(env);
  return activityStreamHandler(
    activityOptionsOf(config),
    servicesLayer(dynamoLayer(dynamo), { cacheTtlMs: config.cacheTtlMs }),
  );
};

let wired: ReturnType<typeof makeActivityHandler> | undefined;
/** Lambda's entry: only the partial batch response goes back (the rest is logged). */
export const handler = async (event: SensorStreamEvent): Promise<StreamBatchResponse> => {
  wired ??= makeActivityHandler(process.env);
  const { batchItemFailures, ...report } = await wired(event);
  console.log(JSON.stringify({ level: "info", msg: "activity refreshed", ...report }));
  return { batchItemFailures };
};
