import { SampleTimesSeen } from "@medusa/adapters";
import {
  Clock,
  DeadLetters,
  type IngestOutcome,
  type IngestSettings,
  InvalidPayload,
  ingestMessages,
  rawPayload,
  receivedAtOr,
  recordSampleTimes,
  type SampleTimeChange,
  sampleTimeChanges,
} from "@medusa/domain";
import type { Services } from "@medusa/lambda";
import { Cause, Effect, Either, Exit, type ManagedRuntime, Option } from "effect";
import type { BrokerMessage } from "./failures-file.js";
import type { StackLog } from "./log.js";

/**
 * The ingest died on a message (a bug, not the store): the same message
 * would die again, so it is not retried like a storage failure is.
 */
export class IngestDefect {
  readonly _tag = "IngestDefect";
  constructor(readonly error: string) {}
  toString() {
    return `IngestDefect: ${this.error}`;
  }
}

export const isDefect = (error: unknown): error is IngestDefect => error instanceof IngestDefect;

const REASON = "the ingest failed on this message";
/** A stack overflow's message can be long; a dead letter keeps the gist. */
const MAX_ERROR_CHARS = 1_000;

/**
 * One write of the ingest queue: `ingestMessages` on the runtime, its typed
 * failure (storage: retried, then parked) or a defect as an `IngestDefect`.
 * A message that dies alone is poison: it is kept as a dead letter with the
 * defect, as a decoding error would be, and never parked to be replayed at
 * every retry (its dead letter failing to be stored is a storage failure).
 */
export const ingestWrite = (
  runtime: ManagedRuntime.ManagedRuntime<Services, never>,
  settings: IngestSettings,
  log: StackLog,
  /**
   * Queues the batch's sample-time changes to be saved with the devices'
   * other status changes (`FleetStatus.saveSampleTimes`); absent, they are
   * saved here, one by one, as the Lambda does.
   */
  saveSampleTimes?: (changes: ReadonlyArray<SampleTimeChange>) => void,
) => {
  // As the Lambda does: each device's newest sample time in its status row, once a minute at most.
  const seen = new SampleTimesSeen();
  return async (
    batch: ReadonlyArray<BrokerMessage>,
  ): Promise<Either.Either<ReadonlyArray<IngestOutcome>, unknown>> => {
    let exit: Exit.Exit<ReadonlyArray<IngestOutcome>, unknown>;
    try {
      exit = await runtime.runPromiseExit(
        saveSampleTimes
          ? ingestMessages(batch, settings)
          : Effect.tap(ingestMessages(batch, settings), (outcomes) =>
              recordSampleTimes(outcomes, seen),
            ),
      );
    } catch (e) {
      // The runtime is being disposed (the stack stops): not the message's fault.
      return Either.left(e);
    }
    if (Exit.isSuccess(exit)) {
      // A failed save is logged by the saver and asked again with a later batch (nothing remembered).
      saveSampleTimes?.(sampleTimeChanges(exit.value, seen));
      return Either.right(exit.value);
    }
    const failure = Cause.failureOption(exit.cause);
    if (Option.isSome(failure)) return Either.left(failure.value);
    if (Cause.isInterruptedOnly(exit.cause)) return Either.left(Cause.squash(exit.cause));
    const defect = new IngestDefect(String(Cause.squash(exit.cause)).slice(0, MAX_ERROR_CHARS));
    const [alone] = batch;
    if (batch.length > 1 || alone === undefined) return Either.left(defect);
    const rejection = new InvalidPayload({
      reason: REASON,
      issues: [{ path: "", message: defect.error }],
    });
    const keep = Effect.gen(function* () {
      const now = yield* (yield* Clock).now;
      yield* (yield* DeadLetters).put({
        receivedAt: receivedAtOr(alone, now),
        source: settings.source,
        topic: alone.topic,
        clientId: alone.clientId,
        ...rawPayload(alone.payload),
        reason: rejection.reason,
        issues: rejection.issues,
      });
    });
    try {
      const kept = await runtime.runPromiseExit(keep);
      if (Exit.isFailure(kept)) return Either.left(Cause.squash(kept.cause));
      log({
        level: "error",
        msg: "the ingest failed on a message, kept in dead letters",
        topic: alone.topic,
        error: defect.error,
      });
      return Either.right([{ _tag: "Rejected", rejection }]);
    } catch (e) {
      return Either.left(e);
    }
  };
};
