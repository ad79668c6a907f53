import { Data } from "effect";

/**
 * An append that did not land (disk full, I/O error). Nothing of it stays in
 * the outbox: it is never handed out by `pending()`, so the caller may append
 * the same data again without it being sent twice.
 */
export class OutboxWriteFailed extends Data.TaggedError("OutboxWriteFailed")<{
  readonly message: string;
  readonly cause?: unknown;
}> {}

export class OutboxClosed extends Data.TaggedError("OutboxClosed") {
  override get message(): string {
    return "outbox is closed";
  }
}

/**
 * Work the outbox does on its own failed; nothing an append reported as stored
 * is lost, and the outbox stays usable:
 * - `checkpoint`: acks and drops are not on disk yet (tried again with backoff;
 *   after a crash until then, those entries would be sent again);
 * - `roll`: no new segment file could be created (the current one keeps growing;
 *   tried again at the next append);
 * - `rollback`: a failed append could not be cut off its segment (its id is
 *   recorded as gone in the checkpoint, and the next append starts a new segment);
 * - `cleanup`: a fully acknowledged segment could not be deleted (tried again later);
 * - `close`: a file could not be closed.
 */
export class OutboxMaintenanceFailed extends Data.TaggedError("OutboxMaintenanceFailed")<{
  readonly operation: "checkpoint" | "roll" | "rollback" | "cleanup" | "close";
  readonly cause: unknown;
}> {
  override get message(): string {
    return `outbox ${this.operation} failed: ${errorText(this.cause)}`;
  }
}

export type OutboxError = OutboxWriteFailed | OutboxMaintenanceFailed;

export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
