import { Context, type Effect } from "effect";
import type { EpochMillis } from "../ids.js";
import type { StorageUnavailable } from "./storage.js";

/** A message that could not be ingested, kept with why. */
export interface DeadLetter {
  readonly receivedAt: EpochMillis;
  /** Where it came from, e.g. `iot-rule`, `mqtt`, `api`. */
  readonly source: string;
  readonly topic: string | null;
  readonly clientId: string | null;
  /** The raw payload as received (UTF-8 text, or base64 when it was not text). */
  readonly payload: string;
  readonly payloadEncoding: "utf8" | "base64";
  readonly reason: string;
  readonly issues: ReadonlyArray<{ readonly path: string; readonly message: string }>;
}

/** What could not be ingested, kept rather than dropped. */
export class DeadLetters extends Context.Tag("@medusa/DeadLetters")<
  DeadLetters,
  {
    readonly put: (letter: DeadLetter) => Effect.Effect<void, StorageUnavailable>;
    /** Newest first. */
    readonly recent: (
      limit: number,
    ) => Effect.Effect<ReadonlyArray<DeadLetter>, StorageUnavailable>;
  }
>() {}

export type DeadLettersService = Context.Tag.Service<DeadLetters>;
