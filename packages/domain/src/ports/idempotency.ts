import { Context, type Effect, Schema } from "effect";
import type { EpochMillis } from "../ids.js";
import type { StorageUnavailable } from "./storage.js";

/** An idempotency key sent again with a different request: refused, so a retry never means another command. */
export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()(
  "IdempotencyKeyReused",
  {},
) {
  override get message(): string {
    return "this Idempotency-Key was sent with a different request; use a new key for a new request";
  }
}

/** How long an idempotency key is remembered: a retry within this time is the same request. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 3_600_000;

/**
 * Idempotency keys of requests that change the record, each with a hash of
 * the request it was first sent with, remembered for `IDEMPOTENCY_KEY_TTL_MS`.
 */
export class IdempotencyKeys extends Context.Tag("@medusa/IdempotencyKeys")<
  IdempotencyKeys,
  {
    /**
     * Claims `key` for the request with `requestHash`: succeeds when the key
     * is new, expired, or was claimed by the same request; fails with
     * `IdempotencyKeyReused` when it names another request.
     */
    readonly claim: (claim: {
      readonly key: string;
      readonly requestHash: string;
      readonly now: EpochMillis;
    }) => Effect.Effect<void, IdempotencyKeyReused | StorageUnavailable>;
  }
>() {}

export type IdempotencyKeysService = Context.Tag.Service<IdempotencyKeys>;
