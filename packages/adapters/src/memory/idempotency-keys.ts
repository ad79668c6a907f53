import {
  IDEMPOTENCY_KEY_TTL_MS,
  IdempotencyKeyReused,
  type IdempotencyKeysService,
} from "@medusa/domain";
import { Effect } from "effect";

/** The idempotency keys' in-memory twin: the same claims, kept in a map. */
export const makeInMemoryIdempotencyKeys = (): IdempotencyKeysService => {
  const claims = new Map<string, { readonly requestHash: string; readonly expiresAt: number }>();
  return {
    claim: ({ key, requestHash, now }) =>
      Effect.suspend(() => {
        const held = claims.get(key);
        if (held && held.requestHash !== requestHash && held.expiresAt > now)
          return Effect.fail(new IdempotencyKeyReused());
        claims.set(key, { requestHash, expiresAt: now + IDEMPOTENCY_KEY_TTL_MS });
        return Effect.void;
      }),
  };
};
