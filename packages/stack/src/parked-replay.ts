import type { BrokerMessage, FailuresFile, FailuresSnapshot } from "./failures-file.js";
import type { StackLog } from "./log.js";

export interface ParkedReplayOptions {
  readonly file: FailuresFile;
  /** Queues messages for the ingest. */
  readonly push: (messages: ReadonlyArray<BrokerMessage>) => void;
  readonly log: StackLog;
  /** The first retry's delay after something is parked, doubled while retries fail (5 s). */
  readonly baseMs?: number;
  /** The longest delay between retries (5 min). */
  readonly capMs?: number;
}

/** What became of a message the ingest took. */
export type Outcome = "stored" | "rejected" | "failed";

export interface ParkedReplay {
  /** Messages in the failures file, not yet stored or dead-lettered. */
  readonly parked: () => number;
  /** Replays the file now, unless a replay is under way (the start's replay). */
  readonly replayNow: () => void;
  /** The ingest appended `count` messages to the file. */
  readonly onParked: (count: number) => void;
  /** The ingest is done with a message: it counts when it is one the replay under way queued. */
  readonly settle: (m: BrokerMessage, outcome: Outcome) => void;
  /** No replay starts any more; one under way ends as its messages settle. */
  readonly stop: () => void;
}

/**
 * Brings back what the ingest parked in the failures file while it runs, not
 * only at the next start: a replay queues the file's messages for the ingest
 * again and, once each is stored, dead-lettered or parked again, rewrites the
 * file without them (`FailuresSnapshot.compact`). One replay at a time, so no
 * line is replayed twice at once. After something is parked the next replay
 * waits `baseMs`; while replays park messages again (DynamoDB still down)
 * the wait doubles up to `capMs`, and a replay that stores everything
 * resets it.
 */
export const startParkedReplay = (options: ParkedReplayOptions): ParkedReplay => {
  const baseMs = options.baseMs ?? 5_000;
  const capMs = options.capMs ?? 300_000;
  let delay = baseMs;
  let parked = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let round:
    | {
        readonly snapshot: FailuresSnapshot;
        readonly pending: Set<BrokerMessage>;
        readonly counts: Record<Outcome, number>;
      }
    | undefined;
  let reportedUnreadable = 0;

  const schedule = () => {
    if (stopped || round || timer || parked === 0) return;
    options.log({ level: "info", msg: "parked messages retried in", ms: delay, parked });
    timer = setTimeout(() => {
      timer = undefined;
      try {
        replay();
      } catch (e) {
        // The file cannot be read now (permissions, a full disk): tried again later.
        options.log({ level: "error", msg: "failures file not replayed", error: String(e) });
        delay = Math.min(capMs, delay * 2);
        schedule();
      }
    }, delay);
    timer.unref?.();
  };

  const replay = () => {
    if (stopped || round) return;
    clearTimeout(timer);
    timer = undefined;
    const snapshot = options.file.read();
    if (snapshot && snapshot.unreadable !== reportedUnreadable) {
      reportedUnreadable = snapshot.unreadable;
      options.log({
        level: "warn",
        msg: "unreadable lines in the failures file, left there",
        file: options.file.path,
        count: snapshot.unreadable,
      });
    }
    parked = snapshot?.messages.length ?? 0;
    if (!snapshot || parked === 0) return;
    round = {
      snapshot,
      pending: new Set(snapshot.messages),
      counts: { stored: 0, rejected: 0, failed: 0 },
    };
    options.log({
      level: "info",
      msg: "replaying the failures file",
      file: options.file.path,
      count: parked,
    });
    options.push(snapshot.messages);
  };

  const finish = () => {
    if (!round) return;
    const { snapshot, counts } = round;
    round = undefined;
    try {
      snapshot.compact();
    } catch (e) {
      // The old lines stay: replayed again, which is harmless (ingest is idempotent).
      options.log({ level: "error", msg: "failures file not rewritten", error: String(e) });
    }
    options.log({
      level: "info",
      msg: "failures file replayed",
      file: options.file.path,
      ...counts,
      unreadable: snapshot.unreadable,
    });
    delay = counts.failed === 0 ? baseMs : Math.min(capMs, delay * 2);
    schedule();
  };

  return {
    parked: () => parked,
    replayNow: replay,
    onParked: (count) => {
      parked += count;
      schedule();
    },
    settle: (m, outcome) => {
      if (!round?.pending.delete(m)) return;
      round.counts[outcome]++;
      // Its line goes at the compaction; parked again, it has a new line, counted by `onParked`.
      parked--;
      if (round.pending.size === 0) finish();
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
};
