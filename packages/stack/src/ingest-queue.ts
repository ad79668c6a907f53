import { Either } from "effect";
import type { StackLog } from "./log.js";

export interface IngestQueueOptions<M, R> {
  /** One write for the messages: what it gave, or why it failed. */
  readonly write: (batch: ReadonlyArray<M>) => Promise<Either.Either<R, unknown>>;
  /** A write went through. Not called once stopped: the stop has handed its messages on. */
  readonly onWritten: (batch: ReadonlyArray<M>, result: R) => void;
  /** Messages not written after every retry, each with the last error. */
  readonly onFailed: (failures: ReadonlyArray<readonly [M, unknown]>) => void;
  readonly log: StackLog;
  /** Batches being written at the same time at most. */
  readonly concurrency: number;
  /** Messages written with one write at most. */
  readonly batchSize: number;
  readonly retries: number;
  /**
   * Whether a failed write is worth retrying as it is (true unless said):
   * a batch that failed otherwise goes straight to one message at a time.
   */
  readonly retryable?: (error: unknown) => boolean;
  /** How long `stop` waits for the queue to drain. */
  readonly stopTimeoutMs: number;
}

export interface IngestQueue<M> {
  readonly push: (messages: ReadonlyArray<M>) => void;
  /** Messages queued or being written. */
  readonly pending: () => number;
  readonly stopped: () => boolean;
  /**
   * Waits for the queue to drain (at most `stopTimeoutMs`) and stops: gives
   * back what is not written by then. A write that finishes later is ignored.
   */
  readonly stop: () => Promise<ReadonlyArray<M>>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Messages queue up while the store is busy and go in batches: one ingest
 * call for up to 25 of them (their intervals read once a device, their items
 * written side by side) instead of one each. A failed write is retried with
 * backoff; then the batch's messages are written one at a time, so that one
 * message the store refuses does not take the rest of its batch with it.
 */
export const startIngestQueue = <M, R>(options: IngestQueueOptions<M, R>): IngestQueue<M> => {
  const queue: Array<M> = [];
  /** Taken from the queue and not yet written or handed to `onFailed`. */
  const inFlight = new Set<M>();
  let running = 0;
  let closed = false;
  const idle: Array<() => void> = [];

  /** One write; null when it went through, else why not. */
  const write = async (batch: ReadonlyArray<M>): Promise<{ readonly error: unknown } | null> => {
    const result = await options.write(batch);
    if (Either.isLeft(result)) return { error: result.left };
    if (closed) return null;
    for (const m of batch) inFlight.delete(m);
    options.onWritten(batch, result.right);
    return null;
  };

  const failed = (failures: ReadonlyArray<readonly [M, unknown]>) => {
    for (const [m] of failures) inFlight.delete(m);
    options.onFailed(failures);
  };

  const retryable = options.retryable ?? (() => true);

  const store = async (batch: ReadonlyArray<M>) => {
    let failure = await write(batch);
    for (
      let attempt = 0;
      failure !== null && retryable(failure.error) && attempt < options.retries;
      attempt++
    ) {
      await sleep(Math.min(5_000, 100 * 2 ** attempt));
      if (closed) return;
      failure = await write(batch);
    }
    if (failure === null || closed) return;
    let failures: Array<readonly [M, unknown]> = [];
    if (batch.length === 1) failures = [[batch[0] as M, failure.error]];
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
        if (alone !== null) failures.push([m, alone.error]);
      }
    }
    // After a stop, the stop has handed these on already.
    if (closed || failures.length === 0) return;
    options.log({
      level: "error",
      msg: "messages not stored",
      count: failures.length,
      error: String(failures.at(-1)?.[1]),
    });
    failed(failures);
  };

  /**
   * A write or a callback threw instead of answering (a bug): the batch's
   * messages not handed on yet are handed to `onFailed`, and nothing ends the
   * process with an unhandled rejection.
   */
  const unexpected = (batch: ReadonlyArray<M>, error: unknown) => {
    const left = batch.filter((m) => inFlight.has(m));
    options.log({
      level: "error",
      msg: "ingest queue failed",
      count: left.length,
      error: String(error),
    });
    if (closed || left.length === 0) return;
    try {
      failed(left.map((m) => [m, error] as const));
    } catch (e) {
      for (const m of left) inFlight.delete(m);
      options.log({ level: "error", msg: "messages lost", count: left.length, error: String(e) });
    }
  };

  const next = () => {
    while (running < options.concurrency && queue.length > 0) {
      running++;
      const batch = queue.splice(0, options.batchSize);
      for (const m of batch) inFlight.add(m);
      store(batch)
        .catch((e: unknown) => unexpected(batch, e))
        .finally(() => {
          running--;
          if (running === 0 && queue.length === 0) for (const resolve of idle.splice(0)) resolve();
          next();
        });
    }
  };

  return {
    push: (messages) => {
      queue.push(...messages);
      next();
    },
    pending: () => queue.length + inFlight.size,
    stopped: () => closed,
    stop: async () => {
      if (closed) return [];
      if (running > 0 || queue.length > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => idle.push(resolve)),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, options.stopTimeoutMs);
          }),
        ]);
        clearTimeout(timer);
      }
      closed = true;
      const left = [...inFlight, ...queue.splice(0)];
      inFlight.clear();
      return left;
    },
  };
};
