import { appendFileSync } from "node:fs";
import type { Aedes, AedesPublishPacket, BrokerClient } from "@medusa/adapters/broker";
import {
  type Commit,
  type DeadLetters,
  type EventStore,
  type SensorStore,
  topicMatches,
} from "@medusa/domain";
import { IntervalCache, type MqttMessage, makeIngest, reattributeAndSettle } from "@medusa/lambda";
import { Effect, Fiber, type Layer } from "effect";

export type StackLog = (entry: Record<string, unknown>) => void;

export interface IngestRuleOptions {
  readonly aedes: Aedes;
  /** The stores every port runs on. */
  readonly layer: Layer.Layer<EventStore | SensorStore | DeadLetters>;
  readonly topicPrefix: string;
  readonly retentionMs: number;
  /** Delay of re-attribution's second pass. */
  readonly settleMs: number;
  /** Where a message that could not be stored after every retry is kept (the SQS DLQ's role). */
  readonly failedFile: string;
  readonly log: StackLog;
  /** Batches being stored at the same time at most. */
  readonly concurrency?: number;
  /** Messages stored with one write at most. */
  readonly batchSize?: number;
  readonly retries?: number;
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
    readonly stored: number;
    readonly rejected: number;
    readonly failed: number;
    readonly queued: number;
  };
  /** Waits for queued messages (bounded), then stops re-attribution. */
  readonly stop: () => Promise<void>;
}

/**
 * What the IoT rule does in AWS, in process: every message a device publishes
 * on `{prefix}/+/sensor/data` goes to the same ingest code as the Lambda
 * handler, as the rule SQL shapes it (`SELECT *, topic() AS topic, clientId()
 * AS client_id, timestamp() AS received_at`; `ingestMessages`). Messages that
 * arrive while the store is busy are stored together, as an SQS-batched
 * Lambda would take them. Storage failures are retried with backoff and
 * finally written to a file, as the function's failure queue would get them. Commits re-attribute at once and after the
 * settle time, as the stream-triggered handler does.
 */
export const startIngestRule = (options: IngestRuleOptions): IngestRule => {
  const filter = `${options.topicPrefix}/+/sensor/data`;
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
  const queue: Array<MqttMessage> = [];
  let running = 0;
  const counts = { received: 0, stored: 0, rejected: 0, failed: 0 };
  const idle: Array<() => void> = [];

  /** Stores a batch of messages with one write, retrying a storage failure with backoff. */
  const store = async (batch: ReadonlyArray<MqttMessage>) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const results = await Effect.runPromise(
          Effect.provide(ingestMessages(batch), options.layer),
        );
        const storedAt = Date.now();
        results.forEach((result, i) => {
          const m = batch[i] as MqttMessage;
          if (result.statusCode === 200) {
            counts.stored++;
            options.onStored?.({ ...m, storedAt });
          } else {
            counts.rejected++;
            const { reason } = JSON.parse(result.body) as { reason?: string };
            options.log({
              level: "warn",
              msg: "message rejected, kept in dead letters",
              topic: m.topic,
              reason,
            });
          }
        });
        return;
      } catch (e) {
        if (attempt >= retries) {
          counts.failed += batch.length;
          options.log({
            level: "error",
            msg: "messages not stored",
            count: batch.length,
            error: String(e),
          });
          for (const m of batch)
            appendFileSync(
              options.failedFile,
              `${JSON.stringify({ failed_at: Date.now(), error: String(e), topic: m.topic, client_id: m.clientId, payload: String(m.payload) })}\n`,
            );
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
      }
    }
  };

  // Messages queue up while the store is busy and go in batches: one DynamoDB
  // request for up to 25 of them instead of one each (DynamoDB Local on disk
  // manages about 80 requests a second).
  const next = () => {
    while (running < limit && queue.length > 0) {
      running++;
      void store(queue.splice(0, batchSize)).finally(() => {
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
    queue.push({
      topic: packet.topic,
      clientId: client.id,
      receivedAt: Date.now(),
      payload: packet.payload,
    });
    next();
  };
  options.aedes.on("publish", onPublish);

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
    stats: () => ({ ...counts, queued: queue.length + running }),
    stop: async () => {
      options.aedes.removeListener("publish", onPublish);
      if (running > 0 || queue.length > 0)
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise((r) => setTimeout(r, 10_000)),
        ]);
      await Effect.runPromise(Fiber.interruptAll([...passes]));
    },
  };
};
