import { appendFileSync } from "node:fs";
import type { Aedes, AedesPublishPacket, BrokerClient } from "@medusa/adapters/broker";
import {
  type Commit,
  type DeadLetter,
  DeadLetters,
  type EpochMillis,
  type EventStore,
  type SensorStore,
  topicMatches,
} from "@medusa/domain";
import { IntervalCache, makeIngest, reattributeAndSettle } from "@medusa/lambda";
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
  /** Messages ingested at the same time at most. */
  readonly concurrency?: number;
  readonly retries?: number;
  /** Called when a message is stored; for lag measurements. */
  readonly onStored?: (message: { readonly topic: string; readonly receivedAt: number }) => void;
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
 * AS client_id, timestamp() AS received_at`). Storage failures are retried
 * with backoff and finally written to a file, as the rule's error action
 * would send them to a queue. Commits re-attribute at once and after the
 * settle time, as the stream-triggered handler does.
 */
const payloadOf = (payload: Buffer | string): Pick<DeadLetter, "payload" | "payloadEncoding"> => {
  const bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const text = bytes.toString("utf8");
  return Buffer.from(text, "utf8").equals(bytes)
    ? { payload: text, payloadEncoding: "utf8" }
    : { payload: bytes.toString("base64"), payloadEncoding: "base64" };
};

export const startIngestRule = (options: IngestRuleOptions): IngestRule => {
  const filter = `${options.topicPrefix}/+/sensor/data`;
  const cache = new IntervalCache();
  const { ingest } = makeIngest({
    topicTemplate: `${options.topicPrefix}/{device_id}/sensor/data`,
    retentionMs: options.retentionMs,
    cache,
    source: "mqtt",
  });
  const limit = options.concurrency ?? 16;
  const retries = options.retries ?? 5;
  const queue: Array<() => Promise<void>> = [];
  let running = 0;
  const counts = { received: 0, stored: 0, rejected: 0, failed: 0 };
  const idle: Array<() => void> = [];

  const next = () => {
    while (running < limit && queue.length > 0) {
      const job = queue.shift() as () => Promise<void>;
      running++;
      void job().finally(() => {
        running--;
        if (running === 0 && queue.length === 0) for (const resolve of idle.splice(0)) resolve();
        next();
      });
    }
  };

  const keep = async (letter: DeadLetter) => {
    counts.rejected++;
    options.log({
      level: "warn",
      msg: "message rejected, kept in dead letters",
      topic: letter.topic,
      reason: letter.reason,
    });
    await Effect.runPromise(
      Effect.flatMap(DeadLetters, (letters) => letters.put(letter)).pipe(
        Effect.provide(options.layer),
      ),
    ).catch((e) => options.log({ level: "error", msg: "dead letter not kept", error: String(e) }));
  };

  const handle = async (event: unknown, topic: string, at: number) => {
    for (let attempt = 0; ; attempt++) {
      try {
        const result = await Effect.runPromise(Effect.provide(ingest(event), options.layer));
        if (result.statusCode === 200) {
          counts.stored++;
          options.onStored?.({ topic, receivedAt: at });
        } else {
          counts.rejected++;
          const { reason } = JSON.parse(result.body) as { reason?: string };
          options.log({
            level: "warn",
            msg: "message rejected, kept in dead letters",
            topic,
            reason,
          });
        }
        return;
      } catch (e) {
        if (attempt >= retries) {
          counts.failed++;
          options.log({ level: "error", msg: "message not stored", topic, error: String(e) });
          appendFileSync(
            options.failedFile,
            `${JSON.stringify({ failed_at: Date.now(), error: String(e), event })}\n`,
          );
          return;
        }
        await new Promise((r) => setTimeout(r, Math.min(5_000, 100 * 2 ** attempt)));
      }
    }
  };

  const onPublish = (packet: AedesPublishPacket, client: BrokerClient | null) => {
    // Only what a device sent: not the broker's own $SYS messages or server-side publishes.
    if (client === null || !topicMatches(filter, packet.topic)) return;
    counts.received++;
    const receivedAt = Date.now();
    const text = Buffer.isBuffer(packet.payload)
      ? packet.payload.toString("utf8")
      : String(packet.payload);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      // What the rule engine cannot read as JSON never reaches the function; keep it, with who sent it.
      queue.push(() =>
        keep({
          receivedAt: receivedAt as EpochMillis,
          source: "mqtt",
          topic: packet.topic,
          clientId: client.id,
          ...payloadOf(packet.payload),
          reason: "payload is not JSON",
          issues: [{ path: "", message: e instanceof Error ? e.message : String(e) }],
        }),
      );
      return next();
    }
    const event =
      typeof json === "object" && json !== null && !Array.isArray(json)
        ? { ...json, topic: packet.topic, client_id: client.id, received_at: receivedAt }
        : json;
    queue.push(() => handle(event, packet.topic, receivedAt));
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
