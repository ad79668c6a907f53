import type { IngestRule } from "./ingest-rule.js";

export interface ParkedStatusOptions {
  /** How often the ingest's counts are looked at (10 s). */
  readonly everyMs?: number;
  /** While the count stays the same, how often it is said again (60 s). */
  readonly repeatMs?: number;
}

/**
 * The stack's status line: says when messages are parked in the failures
 * file (DynamoDB unreachable), when their count changes, again every
 * `repeatMs` while some are, and once when none are left. Silent otherwise.
 * Gives back a function that stops it.
 */
export const reportParked = (
  stats: IngestRule["stats"],
  file: string,
  print: (line: string) => void,
  options: ParkedStatusOptions = {},
): (() => void) => {
  const repeatMs = options.repeatMs ?? 60_000;
  let said = 0;
  let saidAt = 0;
  const timer = setInterval(() => {
    const { parked, stored } = stats();
    const now = Date.now();
    if (parked > 0 && (parked !== said || now - saidAt >= repeatMs))
      print(
        `status: ${parked} message(s) parked in ${file} (storing failed: is DynamoDB Local up?); retried in the background; ${stored} stored so far`,
      );
    else if (parked === 0 && said > 0) print("status: the parked messages are stored, none left");
    else return;
    said = parked;
    saidAt = now;
  }, options.everyMs ?? 10_000);
  timer.unref();
  return () => clearInterval(timer);
};
