import { Schema } from "effect";

/** A store could not be reached or answered with an error (not a business rule). */
export class StorageUnavailable extends Schema.TaggedError<StorageUnavailable>()(
  "StorageUnavailable",
  { store: Schema.String, operation: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `${this.store} ${this.operation} failed: ${this.reason}`;
  }
}

/** `[start, end)` in epoch milliseconds. */
export interface TimeRange {
  readonly start: number;
  readonly end: number;
}
