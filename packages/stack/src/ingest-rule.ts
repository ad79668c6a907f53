import { appendFileSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import type { Aedes, AedesPublishPacket, BrokerClient } from "@medusa/adapters/broker";
import {
  type Commit,
  type DeadLetters,
  type EventStore,
  type SensorStore,
  topicMatches,
} from "@medusa/domain";
import {
  IntervalCache,
  type MqttMessage,
  makeIngest,
  rawPayload,
  reattributeAndSettle,
} from "@medusa/lambda";
import { Effect, Either, Fiber, type Layer, Schema } from "effect";

export type StackLog = (entry: Record<string, unknown>) => void;

export interface IngestRuleOptions {
  readonly aedes: Aedes;
  /** The stores every port runs on. */
  readonly layer: Layer.Layer<EventStore | SensorStore | DeadLetters>;
  readonly topicPrefix: string;
  readonly retentionMs: number;
  /** Delay of re-attribution's second pass. */
  readonly settleMs: number;
  /**
   * Where a message that could not be stored is kept (the SQS DLQ's role): after every
   * retry, or when the ingest stops before storing it. Replayed on the next start.
   */
  readonly failedFile: string;
  readonly log: StackLog;
  /** Batches being stored at the same time at most. */
  readonly concurrency?: number;
  /** Messages stored with one write at most. */
  readonly batchSize?: number;
  readonly retries?: number;
  /** How long `stop` waits for the queue to drain before the rest goes to the failures file (10 s). */
  readonly stopTimeoutMs?: number;
  /** Called when a message is stored (for lag measurements): the message, and when. */
  readonly onStored?: (message: StoredMessage) => void;
}

export interface StoredMessage extends MqttMessage {
  readonly storedAt: number;
}

export interface IngestRule {
  /** The in-process stand-in for the events table's stream: re-attributes after a commit. */
  readonly onCommit: (commit: Commit) => void;
  readonly stats: () => {
    readonly received: number;
    /** Taken from the failures file at start. */
    readonly replayed: number;
    readonly stored: number;
    readonly rejected: number;
    readonly failed: number;
    readonly queued: number;
  };
  /**
   * Waits for the queue to drain (at most `stopTimeoutMs`), puts what is left in the
   * failures file, then stops re-attribution. A message the broker still delivers
   * afterwards goes straight to the failures file.
   */
  readonly stop: () => Promise<void>;
}

/**
 * A line of the failures file: a message as the broker delivered it, and why
 * it was not stored. Enough to ingest it again with the same keys.
 */
const FailedMessage = Schema.Struct({
  failed_at: Schema.Number,
  error: Schema.String,
  topic: Schema.String,
  client_id: Schema.String,
  // A single reading's sample time is its receive time. Lines written before this
  // field existed have none; the failure time is the nearest one they hold.
  received_at: Schema.optional(Schema.Number),
  payload: Schema.String,
  /** Set when the payload is not UTF-8 text; `payload` is then base64. */
  encoding: Schema.optional(Schema.Literal("base64")),
});
const decodeFailed = Schema.decodeUnknownEither(Schema.parseJson(FailedMessage));

const failureLine = (m: MqttMessage, error: unknown): string => {
  const raw = rawPayload(typeof m.payload === "string" ? m.payload : Buffer.from(m.payload));
  const payload =
    raw.payloadEncoding === "base64"
      ? { payload: raw.payload, encoding: "base64" as const }
      : { payload: raw.payload };
  const line: typeof FailedMessage.Type = {
    failed_at: Date.now(),
    error: String(error),
    topic: m.topic,
    client_id: m.clientId,
    received_at: m.receivedAt,
    ...payload,
  };
  return `${JSON.stringify(line)}\n`;
};

const messageOf = (line: typeof FailedMessage.Type): MqttMessage => ({
  topic: line.topic,
  clientId: line.client_id,
  receivedAt: line.received_at ?? line.failed_at,
  payload: line.encoding === "base64" ? Buffer.from(line.payload, "base64") : line.payload,
});

/** The failures file as found at start: its bytes, the messages in it, and lines that are none. */
const readFailures = (file: string) => {
  let original: Buffer;
  try {
    original = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  if (original.length > 0 && original.at(-1) !== 0x0a) {
    // A line cut short by a crash: the next line appended must not run on from it.
    appendFileSync(file, "\n");
    original = readFileSync(file);
  }
  const messages: Array<MqttMessage> = [];
  const unreadable: Array<string> = [];
  for (const line of original.toString("utf8").split("\n")) {
    if (line.trim() === "") continue;
    const decoded = decodeFailed(line);
    if (Either.isRight(decoded)) messages.push(messageOf(decoded.right));
    else unreadable.push(line);
  }
  return { original, messages, unreadable };
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * What the IoT rule does in AWS, in process: every message a device publishes
 * on `{prefix}/+/sensor/data` goes to the same ingest code as the Lambda
 * handler, as the rule SQL shapes it (`SELECT *, topic() AS topic, clientId()
 * AS client_id, timestamp() AS received_at`; `ingestMessages`). Messages that
 * arrive while the store is busy are stored together, as an SQS-batched
 * Lambda would take them. Storage failures are retried with backoff, then
 * message by message, and finally written to a file, as the function's
 * failure queue would get them; that file is replayed on the next start.
 * Commits re-attribute at once and after the settle time, as the
 * stream-triggered handler does.
 *
 * The broker has acknowledged every message before it is queued here, so none
 * is dropped: each is stored, kept as a dead letter, or in the failures file.
 */
export const startIngestRule = (options: IngestRuleOptions): IngestRule => {
  const filter = `${options.topicPrefix}/+/sensor/data`;
  const file = options.failedFile;
  const cache = new IntervalCache();
  const { ingestMessages } = makeIngest({
    topicTemplate: `${options.topicPrefix}/{device_id}/sensor/data`,
    retentionMs: options.retentionMs,
    cache,
    source: "mqtt",
  });
  const limit = options.concurrency ?? 4;
  const batchSize = options.batchSize ?? 25;
  const retries = options.retries ?? 5;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const queue: Array<MqttMessage> = [];
  /** Taken from the queue and not yet stored, dead-lettered or in the failures file. */
  const inFlight = new Set<MqttMessage>();
  let running = 0;
  /** Set when `stop` has put what was left in the failures file; late write results are ignored. */
  let closed = false;
  const counts = { received: 0, replayed: 0, stored: 0, rejected: 0, failed: 0 };
  const idle: Array<() => void> = [];

  const replay = readFailures(file);
  const replaying = new Set(replay?.messages);
  const replayed = { stored: 0, rejected: 0, failed: 0 };

  /**
   * Once every replayed message is stored or back in the file (appended again),
   * the file loses the lines it started with, keeping unreadable ones; written
   * to a temporary file and renamed, so a crash leaves the old file or the new.
   */
  const compact = () => {
    if (!replay) return;
    let current: Buffer;
    try {
      current = readFileSync(file);
    } catch {
      return;
    }
    // Only this process writes the file, by appending: a changed start means someone
    // edited it, and it stays as it is (replaying a line twice is harmless).
    if (!current.subarray(0, replay.original.length).equals(replay.original)) return;
    const kept = Buffer.concat([
      Buffer.from(replay.unreadable.map((line) => `${line}\n`).join("")),
      current.subarray(replay.original.length),
    ]);
    if (kept.length === 0) rmSync(file, { force: true });
    else {
      const temp = `${file}.${process.pid}.tmp`;
      writeFileSync(temp, kept);
      renameSync(temp, file);
    }
    options.log({
      level: "info",
      msg: "failures file replayed",
      file,
      ...replayed,
      unreadable: replay.unreadable.length,
    });
  };

  /** A message is done with: stored, dead-lettered, or in the failures file. */
  const settle = (m: MqttMessage, outcome: keyof typeof replayed) => {
    inFlight.delete(m);
    if (!replaying.delete(m)) return;
    replayed[outcome]++;
    if (replaying.size === 0) compact();
  };

  const keepFailed = (failures: ReadonlyArray<readonly [MqttMessage, unknown]>) => {
    for (const [m, error] of failures) appendFileSync(file, failureLine(m, error));
    counts.failed += failures.length;
    for (const [m] of failures) settle(m, "failed");
  };

  /** One write for the messages: null when it went through, else why not. */
  const write = async (
    batch: ReadonlyArray<MqttMessage>,
  ): Promise<{ readonly error: unknown } | null> => {
    let results: Effect.Effect.Success<ReturnType<typeof ingestMessages>>;
    try {
      results = await Effect.runPromise(Effect.provide(ingestMessages(batch), options.layer));
    } catch (error) {
      return { error };
    }
    // Stored after all, though already in the failures file: its replay rewrites the same keys.
    if (closed) return null;
    const storedAt = Date.now();
    results.forEach((result, i) => {
      const m = batch[i] as MqttMessage;
      if (result.statusCode === 200) {
        counts.stored++;
        options.onStored?.({ ...m, storedAt });
        settle(m, "stored");
      } else {
        counts.rejected++;
        const { reason } = JSON.parse(result.body) as { reason?: string };
        options.log({
          level: "warn",
          msg: "message rejected, kept in dead letters",
          topic: m.topic,
          reason,
        });
        settle(m, "rejected");
      }
    });
    return null;
  };

  /**
   * Stores a batch with one write, retrying a storage failure with backoff; then
   * message by message, so that one message the store refuses does not take the
   * rest of its batch to the failures file.
   */
  const store = async (batch: ReadonlyArray<MqttMessage>) => {
    let failure = await write(batch);
    for (let attempt = 0; failure !== null && attempt < retries; attempt++) {
      await sleep(Math.min(5_000, 100 * 2 ** attempt));
      if (closed) return;
      failure = await write(batch);
    }
    if (failure === null || closed) return;
    let failed: Array<readonly [MqttMessage, unknown]> = [];
    if (batch.length === 1) failed = [[batch[0] as MqttMessage, failure.error]];
    else {
      options.log({
        level: "warn",
        msg: "batch not stored, storing its messages one at a time",
        count: batch.length,
        error: String(failure.error),
      });
      for (const m of batch) {
        if (closed) return;
        const alone = await write([m]);
        if (alone !== null) failed.push([m, alone.error]);
      }
    }
    // After a stop, the stop has put these in the failures file already.
    if (closed || failed.length === 0) return;
    options.log({
      level: "error",
      msg: "messages not stored",
      count: failed.length,
      error: String(failed.at(-1)?.[1]),
    });
    keepFailed(failed);
  };

  // Messages queue up while the store is busy and go in batches: one DynamoDB
  // request for up to 25 of them instead of one each (DynamoDB Local on disk
  // manages about 80 requests a second).
  const next = () => {
    while (running < limit && queue.length > 0) {
      running++;
      const batch = queue.splice(0, batchSize);
      for (const m of batch) inFlight.add(m);
      void store(batch).finally(() => {
        running--;
        if (running === 0 && queue.length === 0) for (const resolve of idle.splice(0)) resolve();
        next();
      });
    }
  };

  const onPublish = (packet: AedesPublishPacket, client: BrokerClient | null) => {
    // Only what a device sent: not the broker's own $SYS messages or server-side publishes.
    if (client === null || !topicMatches(filter, packet.topic)) return;
    counts.received++;
    const m: MqttMessage = {
      topic: packet.topic,
      clientId: client.id,
      receivedAt: Date.now(),
      payload: packet.payload,
    };
    if (closed) {
      // Between the ingest's stop and the broker's close: the device has its PUBACK.
      options.log({
        level: "error",
        msg: "message arrived after the ingest stopped, kept in the failures file",
        topic: m.topic,
      });
      keepFailed([[m, "arrived after the ingest stopped"]]);
      return;
    }
    queue.push(m);
    next();
  };
  options.aedes.on("publish", onPublish);

  if (replay && replay.unreadable.length > 0)
    options.log({
      level: "warn",
      msg: "unreadable lines in the failures file, left there",
      file,
      count: replay.unreadable.length,
    });
  if (replay && replay.messages.length > 0) {
    // Ingest is idempotent (a message's items have the same keys every time), so a
    // message stored before its line was written is merely written again.
    counts.replayed = replay.messages.length;
    options.log({
      level: "info",
      msg: "replaying the failures file",
      file,
      count: replay.messages.length,
    });
    queue.push(...replay.messages);
    next();
  }

  const passes = new Set<Fiber.RuntimeFiber<unknown, unknown>>();
  const onCommit = (commit: Commit) => {
    cache.invalidate(commit.deviceId);
    const fiber = Effect.runFork(
      reattributeAndSettle(commit, cache, {
        retentionMs: options.retentionMs,
        settleMs: options.settleMs,
      }).pipe(
        Effect.tap((reports) =>
          Effect.sync(() =>
            options.log({
              level: "info",
              msg: "re-attributed",
              device_id: commit.deviceId,
              version: commit.version,
              passes: reports.map((r) => ({ examined: r.examined, rewritten: r.rewritten })),
            }),
          ),
        ),
        Effect.catchAll((e) =>
          Effect.sync(() =>
            options.log({
              level: "error",
              msg: "re-attribution failed",
              device_id: commit.deviceId,
              error: String(e),
            }),
          ),
        ),
        Effect.provide(options.layer),
      ),
    );
    passes.add(fiber);
    fiber.addObserver(() => passes.delete(fiber));
  };

  return {
    onCommit,
    stats: () => ({ ...counts, queued: queue.length + inFlight.size }),
    stop: async () => {
      if (closed) return;
      if (running > 0 || queue.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, stopTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      closed = true;
      // The stack stops DynamoDB next and exits: what is not stored by now would be lost.
      const left = [...inFlight, ...queue.splice(0)];
      if (left.length > 0) {
        options.log({
          level: "error",
          msg: "messages not stored before the stop, kept in the failures file",
          count: left.length,
          file,
        });
        keepFailed(left.map((m) => [m, `not stored within ${stopTimeoutMs} ms of the stop`]));
      }
      await Effect.runPromise(Fiber.interruptAll([...passes]));
    },
  };
};
