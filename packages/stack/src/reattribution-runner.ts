import {
  AssignmentIntervals,
  type Commit,
  reattributeAndSettle,
  type SensorStore,
} from "@medusa/domain";
import { Cause, Effect, Fiber, type ManagedRuntime } from "effect";
import type { StackLog } from "./log.js";

export interface ReattributionRunner {
  /** The in-process stand-in for the events table's stream: re-attributes after a commit. */
  readonly onCommit: (commit: Commit) => void;
  /** Interrupts the passes under way (a second pass waiting for its settle time). */
  readonly stop: () => Promise<void>;
}

/**
 * Re-attribution as the stream-triggered handler runs it (`reattributeAndSettle`:
 * at once, and again after `settleMs`), on the runtime the ingest runs on, so
 * a commit clears the very interval cache the ingest reads.
 */
export const startReattribution = (
  runtime: ManagedRuntime.ManagedRuntime<AssignmentIntervals | SensorStore, never>,
  options: { readonly retentionMs: number; readonly settleMs: number; readonly log: StackLog },
): ReattributionRunner => {
  const passes = new Set<Fiber.RuntimeFiber<unknown, unknown>>();
  return {
    onCommit: (commit) => {
      // At once, before the API answers the command: an ingest that starts after the
      // answer uses the new intervals, here in process even within the cache's TTL.
      runtime.runSync(Effect.flatMap(AssignmentIntervals, (i) => i.forget(commit.deviceId)));
      const fiber = runtime.runFork(
        reattributeAndSettle(commit, {
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
          // A defect too: logged like a failure, never a fiber dying unseen.
          Effect.catchAllCause((cause) =>
            Effect.sync(() => {
              if (!Cause.isInterruptedOnly(cause))
                options.log({
                  level: "error",
                  msg: "re-attribution failed",
                  device_id: commit.deviceId,
                  error: String(Cause.squash(cause)),
                });
            }),
          ),
        ),
      );
      passes.add(fiber);
      fiber.addObserver(() => passes.delete(fiber));
    },
    stop: () => Effect.runPromise(Fiber.interruptAll([...passes])),
  };
};
