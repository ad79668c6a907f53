import type { Aedes, AedesPublishPacket, BrokerClient } from "@medusa/adapters/broker";
import {
  type Commit,
  type IngestOutcome,
  type IngestSettings,
  ingestMessages,
  topicMatches,
  topicTemplates,
} from "@medusa/domain";
import { runOrReject, type Services } from "@medusa/lambda";
import { Array as Arr, Either, type ManagedRuntime, Match } from "effect";
import { type BrokerMessage, openFailuresFile } from "./failures-file.js";
import { startIngestQueue } from "./ingest-queue.js";
import type { StackLog } from "./log.js";
import { startReattribution } from "./reattribution-runner.js";

export interface IngestRuleOptions {
  readonly aedes: Aedes;
  /** What the use cases run on, built once: the ingest's interval cache is the one a commit clears. */
  readonly runtime: ManagedRuntime.ManagedRuntime<Services, never>;
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

export interface StoredMessage extends BrokerMessage {
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
 * What the IoT rule does in AWS, in process: every message a device publishes
 * on `{prefix}/+/sensor/data` goes to the ingest use case the Lambda handler
 * runs (`ingestMessages`), with the topic, the publisher's client id and the
 * receive time the rule SQL would add. Messages that arrive while the store
 * is busy are stored together, as an SQS-batched Lambda would take them
 * (`startIngestQueue`). Storage failures are retried with backoff, then
 * message by message, and finally written to a file, as the function's
 * failure queue would get them; that file is replayed on the next start
 * (`openFailuresFile`). Commits re-attribute at once and after the settle
 * time, as the stream-triggered handler does (`startReattribution`).
 *
 * The broker has acknowledged every message before it is queued here, so none
 * is dropped: each is stored, kept as a dead letter, or in the failures file.
 */
export const startIngestRule = (options: IngestRuleOptions): IngestRule => {
  const filter = `${options.topicPrefix}/+/sensor/data`;
  const file = options.failedFile;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const settings: IngestSettings = {
    topicTemplate: topicTemplates(options.topicPrefix).sensorData,
    retentionMs: options.retentionMs,
    source: "mqtt",
  };
  const counts = { received: 0, replayed: 0, stored: 0, rejected: 0, failed: 0 };

  const failures = openFailuresFile(file);
  /** Replayed messages not yet stored, dead-lettered or back in the file. */
  const replaying = new Set(failures.messages);
  const replayed = { stored: 0, rejected: 0, failed: 0 };

  /** A message is done with; once every replayed one is, the file loses their old lines. */
  const settle = (m: BrokerMessage, outcome: keyof typeof replayed) => {
    if (!replaying.delete(m)) return;
    replayed[outcome]++;
    if (replaying.size === 0 && failures.compact())
      options.log({
        level: "info",
        msg: "failures file replayed",
        file,
        ...replayed,
        unreadable: failures.unreadable,
      });
  };

  const keepFailed = (failed: ReadonlyArray<readonly [BrokerMessage, unknown]>) => {
    failures.append(failed);
    counts.failed += failed.length;
    for (const [m] of failed) settle(m, "failed");
  };

  const onWritten = (
    batch: ReadonlyArray<BrokerMessage>,
    outcomes: ReadonlyArray<IngestOutcome>,
  ) => {
    const storedAt = Date.now();
    for (const [m, outcome] of Arr.zip(batch, outcomes))
      Match.valueTags(outcome, {
        Stored: () => {
          counts.stored++;
          options.onStored?.({ ...m, storedAt });
          settle(m, "stored");
        },
        Rejected: ({ rejection }) => {
          counts.rejected++;
          options.log({
            level: "warn",
            msg: "message rejected, kept in dead letters",
            topic: m.topic,
            reason: rejection.reason,
          });
          settle(m, "rejected");
        },
      });
  };

  const queue = startIngestQueue({
    write: (batch: ReadonlyArray<BrokerMessage>) =>
      runOrReject(options.runtime, ingestMessages(batch, settings)).then(Either.right, Either.left),
    onWritten,
    onFailed: keepFailed,
    log: options.log,
    concurrency: options.concurrency ?? 4,
    batchSize: options.batchSize ?? 25,
    retries: options.retries ?? 5,
    stopTimeoutMs,
  });

  const onPublish = (packet: AedesPublishPacket, client: BrokerClient | null) => {
    // Only what a device sent: not the broker's own $SYS messages or server-side publishes.
    if (client === null || !topicMatches(filter, packet.topic)) return;
    counts.received++;
    const m: BrokerMessage = {
      topic: packet.topic,
      clientId: client.id,
      receivedAt: Date.now(),
      payload: packet.payload,
    };
    if (queue.stopped()) {
      // Between the ingest's stop and the broker's close: the device has its PUBACK.
      options.log({
        level: "error",
        msg: "message arrived after the ingest stopped, kept in the failures file",
        topic: m.topic,
      });
      keepFailed([[m, "arrived after the ingest stopped"]]);
      return;
    }
    queue.push([m]);
  };
  options.aedes.on("publish", onPublish);

  if (failures.unreadable > 0)
    options.log({
      level: "warn",
      msg: "unreadable lines in the failures file, left there",
      file,
      count: failures.unreadable,
    });
  if (failures.messages.length > 0) {
    // Ingest is idempotent (a message's items have the same keys every time), so a
    // message stored before its line was written is merely written again.
    counts.replayed = failures.messages.length;
    options.log({
      level: "info",
      msg: "replaying the failures file",
      file,
      count: failures.messages.length,
    });
    queue.push(failures.messages);
  }

  const reattribution = startReattribution(options.runtime, {
    retentionMs: options.retentionMs,
    settleMs: options.settleMs,
    log: options.log,
  });

  return {
    onCommit: reattribution.onCommit,
    stats: () => ({ ...counts, queued: queue.pending() }),
    stop: async () => {
      if (queue.stopped()) return;
      // The stack stops DynamoDB next and exits: what is not stored by now would be lost.
      const left = await queue.stop();
      if (left.length > 0) {
        options.log({
          level: "error",
          msg: "messages not stored before the stop, kept in the failures file",
          count: left.length,
          file,
        });
        keepFailed(left.map((m) => [m, `not stored within ${stopTimeoutMs} ms of the stop`]));
      }
      await reattribution.stop();
    },
  };
};
