import { Either } from "effect";
import { afterEach, beforeEach, expect, it } from "vitest";
import { startIngestQueue } from "./ingest-queue.js";

const unhandled: Array<unknown> = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  unhandled.length = 0;
  process.on("unhandledRejection", onUnhandled);
});
afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
});

const settled = () => new Promise((r) => setTimeout(r, 50));

it("a write or callback that throws ends no process: its messages go to onFailed, and the queue goes on", async () => {
  const failed: Array<readonly [number, unknown]> = [];
  const written: Array<number> = [];
  const log: Array<Record<string, unknown>> = [];
  const queue = startIngestQueue<number, null>({
    write: async (batch) => {
      if (batch.includes(13)) throw new Error("the write threw instead of answering");
      return Either.right(null);
    },
    onWritten: (batch) => {
      if (batch.includes(7)) throw new Error("a callback threw");
      written.push(...batch);
    },
    onFailed: (failures) => failed.push(...failures),
    log: (entry) => log.push(entry),
    concurrency: 1,
    batchSize: 1,
    retries: 0,
    stopTimeoutMs: 1_000,
  });
  queue.push([1, 13, 2, 7, 3]);
  await settled();
  expect(unhandled).toEqual([]);
  expect(written).toEqual([1, 2, 3]);
  expect(failed.map(([m]) => m)).toEqual([13]);
  expect(log).toContainEqual(
    expect.objectContaining({ level: "error", msg: "ingest queue failed", count: 1 }),
  );
  expect(queue.pending()).toBe(0);
  await queue.stop();
});

it("a batch that fails in a way no retry cures goes to one message at a time without retries", async () => {
  const attempts: Array<ReadonlyArray<number>> = [];
  const queue = startIngestQueue<number, null>({
    write: async (batch) => {
      attempts.push(batch);
      return batch.length > 1 ? Either.left("defect") : Either.right(null);
    },
    retryable: (error) => error !== "defect",
    onWritten: () => {},
    onFailed: () => {},
    log: () => {},
    concurrency: 1,
    batchSize: 3,
    retries: 5,
    stopTimeoutMs: 1_000,
  });
  queue.push([1, 2, 3]);
  await settled();
  expect(attempts).toEqual([[1, 2, 3], [1], [2], [3]]);
  await queue.stop();
});
