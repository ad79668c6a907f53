import { afterEach, expect, it, vi } from "vitest";
import { reportParked } from "./status.js";

afterEach(() => {
  vi.useRealTimers();
});

it("says when messages are parked, again when the count changes or a minute passes, and once when none are left", () => {
  vi.useFakeTimers();
  const lines: Array<string> = [];
  let parked = 0;
  const stop = reportParked(
    () => ({ received: 0, replayed: 0, stored: 7, rejected: 0, failed: 0, queued: 0, parked }),
    ".medusa/ingest-failures.jsonl",
    (line) => lines.push(line),
  );
  vi.advanceTimersByTime(30_000);
  expect(lines).toEqual([]);
  parked = 3;
  vi.advanceTimersByTime(10_000);
  expect(lines).toEqual([
    "status: 3 message(s) parked in .medusa/ingest-failures.jsonl (storing failed: is DynamoDB Local up?); retried in the background; 7 stored so far",
  ]);
  vi.advanceTimersByTime(50_000);
  expect(lines).toHaveLength(1);
  vi.advanceTimersByTime(10_000);
  expect(lines).toHaveLength(2);
  parked = 5;
  vi.advanceTimersByTime(10_000);
  expect(lines.at(-1)).toContain("status: 5 message(s) parked");
  parked = 0;
  vi.advanceTimersByTime(10_000);
  expect(lines.at(-1)).toBe("status: the parked messages are stored, none left");
  vi.advanceTimersByTime(60_000);
  expect(lines).toHaveLength(4);
  stop();
});
