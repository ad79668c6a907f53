import type {
  Aedes,
  AedesPublishPacket,
  BasicIngestRules,
  BrokerClient,
  RuleMessage,
} from "@medusa/adapters/broker";
import {
  type Commit,
  type IngestOutcome,
  type IngestSettings,
  type SampleTimeChange,
  topicMatches,
  topicTemplates,
} from "@medusa/domain";
import type { Services } from "@medusa/lambda";
import { Array as Arr, type ManagedRuntime, Match } from "effect";
import { type BrokerMessage, failuresFile } from "./failures-file.js";
import { startIngestQueue } from "./ingest-queue.js";
import { ingestWrite, isDefect } from "./ingest-write.js";
import type { StackLog } from "./log.js";
import { startParkedReplay } from "./parked-replay.js";
import { startReattribution } from "./reattribution-runner.js";

export interface IngestRuleOptions {
  readonly aedes: Aedes;
  /**
   * Basic Ingest: the ingest registers as the rule `ruleName` on the broker's
   * rules and also takes what devices publish to
   * `$aws/rules/{ruleName}/{prefix}/+/sensor/data`, with the topic AWS's
   * `topic()` gives the rule: without the `$aws/rules/{ruleName}/` prefix.
   */
  readonly basicIngest?: { readonly rules: BasicIngestRules; readonly ruleName: string };
  /** What the use cases run on, built once: the ingest's interval cache is the one a commit clears. */
  readonly runtime: ManagedRuntime.ManagedRuntime<Services, never>;
  /**
   * Where each stored batch's sample-time changes are queued (the fleet
   * status's, with the devices' other status changes); absent, the ingest
   * saves them itself, as the Lambda does.
   */
  readonly saveSampleTimes?: (changes: ReadonlyArray<SampleTimeChange>) => void;
  readonly topicPrefix: string;
  readonly retentionMs: number;
  /** Delay of re-attribution's second pass. */
  readonly settleMs: number;
  /**
   * Where a message that could not be stored is kept (the SQS DLQ's role): after every
   * retry, or when the ingest stops before storing it. Replayed at the start and, while
   * the stack runs, in the background with backoff.
   */
  readonly failedFile: string;
  /** The background replay's first delay after something is parked, doubled while it fails (5 s). */
  readonly replayBaseMs?: number;
  /** The background replay's longest delay (5 min). */
  readonly replayCapMs?: number;
  readonly log: StackLog;
  /**
   * Batches being stored at the same time at most (2). Each writes up to 16
   * items at once (`writeIfAbsent`), and DynamoDB Local on disk does one
   * write at a time: more batches in flight do not store more, they only
   * lengthen the queue that the API's reads and the device statuses' saves
   * wait in behind them.
   */
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
    /** Taken from the failures file (at start, and by the background replays). */
    readonly replayed: number;
    readonly stored: number;
    /** Kept in the dead letters (bad input, or a message the ingest failed on). */
    readonly rejected: number;
    /** Put in the failures file (a message failing at several replays counts each time). */
    readonly failed: number;
    readonly queued: number;
    /** In the failures file now, waiting for a replay. */
    readonly parked: number;
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
 * on `{prefix}/+/sensor/data` (or, with `basicIngest`, to the same topic
 * behind `$aws/rules/{ruleName}/`) goes to the ingest use case the Lambda
 * handler runs (`ingestMessages`), with the topic, the publisher's client id
 * and the receive time the rule SQL would add. Messages that arrive while the store
 * is busy are stored together, as an SQS-batched Lambda would take them
 * (`startIngestQueue`). Storage failures are retried with backoff, then
 * message by message, and finally written to a file, as the function's
 * failure queue would get them; that file is replayed at the start and in
 * the background while the stack runs (`startParkedReplay`). A message the
 * ingest dies on (a defect) is kept as a dead letter, never parked
 * (`ingestWrite`). Commits re-attribute at once and after the settle time,
 * as the stream-triggered handler does (`startReattribution`).
 *
 * The broker has acknowledged every message before it is queued here, so none
 * is dropped: each is stored, kept as a dead letter, or in the failures file.
 */
export const startIngestRule = (options: IngestRuleOptions): IngestRule => {
  const filter = `${options.topicPrefix}/+/sensor/data`;
  const stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
  const settings: IngestSettings = {
    topicTemplate: topicTemplates(options.topicPrefix).sensorData,
    retentionMs: options.retentionMs,
    source: "mqtt",
  };
  const counts = { received: 0, replayed: 0, stored: 0, rejected: 0, failed: 0 };
  const file = failuresFile(options.failedFile);

  const keepFailed = (failed: ReadonlyArray<readonly [BrokerMessage, unknown]>) => {
    try {
      file.append(failed);
    } catch (e) {
      // Nowhere left to keep them (the disk is full): said loudly, and the ingest goes on.
      options.log({
        level: "error",
        msg: "messages lost: the failures file cannot be written",
        file: file.path,
        count: failed.length,
        error: String(e),
      });
    }
    counts.failed += failed.length;
    parked.onParked(failed.length);
    for (const [m] of failed) parked.settle(m, "failed");
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
          parked.settle(m, "stored");
          try {
            options.onStored?.({ ...m, storedAt });
          } catch (e) {
            options.log({ level: "error", msg: "onStored failed", error: String(e) });
          }
        },
        Rejected: ({ rejection }) => {
          counts.rejected++;
          options.log({
            level: "warn",
            msg: "message rejected, kept in dead letters",
            topic: m.topic,
            reason: rejection.reason,
          });
          parked.settle(m, "rejected");
        },
      });
  };

  const queue = startIngestQueue({
    write: ingestWrite(options.runtime, settings, options.log, options.saveSampleTimes),
    retryable: (error) => !isDefect(error),
    onWritten,
    onFailed: keepFailed,
    log: options.log,
    concurrency: options.concurrency ?? 2,
    batchSize: options.batchSize ?? 25,
    retries: options.retries ?? 5,
    stopTimeoutMs,
  });

  const parked = startParkedReplay({
    file,
    push: (messages) => {
      if (queue.stopped()) return;
      counts.replayed += messages.length;
      queue.push(messages);
    },
    log: options.log,
    ...(options.replayBaseMs !== undefined ? { baseMs: options.replayBaseMs } : {}),
    ...(options.replayCapMs !== undefined ? { capMs: options.replayCapMs } : {}),
  });

  const take = (topic: string, clientId: string, payload: BrokerMessage["payload"]) => {
    counts.received++;
    const m: BrokerMessage = { topic, clientId, receivedAt: Date.now(), payload };
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
  const onPublish = (packet: AedesPublishPacket, client: BrokerClient | null) => {
    // Only what a device sent: not the broker's own $SYS messages or server-side publishes.
    if (client === null || !topicMatches(filter, packet.topic)) return;
    take(packet.topic, client.id, packet.payload);
  };
  options.aedes.on("publish", onPublish);
  // The topic comes as the rule's topic() gives it, so the ingest reads it as a plain one.
  options.basicIngest?.rules.register(options.basicIngest.ruleName, filter, (m: RuleMessage) =>
    take(m.topic, m.clientId, m.payload),
  );

  // Queued ahead of new messages. Ingest is idempotent (a message's items have the same
  // keys every time), so a message stored before its line was written is merely written again.
  parked.replayNow();

  const reattribution = startReattribution(options.runtime, {
    retentionMs: options.retentionMs,
    settleMs: options.settleMs,
    log: options.log,
  });

  return {
    onCommit: reattribution.onCommit,
    stats: () => ({ ...counts, queued: queue.pending(), parked: parked.parked() }),
    stop: async () => {
      if (queue.stopped()) return;
      parked.stop();
      // The stack stops DynamoDB next and exits: what is not stored by now would be lost.
      const left = await queue.stop();
      if (left.length > 0) {
        options.log({
          level: "error",
          msg: "messages not stored before the stop, kept in the failures file",
          count: left.length,
          file: file.path,
        });
        keepFailed(left.map((m) => [m, `not stored within ${stopTimeoutMs} ms of the stop`]));
      }
      await reattribution.stop();
    },
  };
};
