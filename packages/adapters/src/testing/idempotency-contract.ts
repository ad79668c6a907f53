import { epochMillis, IDEMPOTENCY_KEY_TTL_MS, type IdempotencyKeysService } from "@medusa/domain";
import { Effect, Either } from "effect";
import { describe, expect, it } from "vitest";

let runs = 0;

/** The behaviour every idempotency-key store has (the in-memory twin and DynamoDB run the same suite). */
export const idempotencyKeysContract = (name: string, store: () => IdempotencyKeysService) =>
  describe(`idempotency keys contract: ${name}`, () => {
    const claim = (key: string, requestHash: string, now: number) =>
      Effect.runPromise(
        Effect.either(store().claim({ key, requestHash, now: epochMillis(now) })),
      ).then((r) => (Either.isRight(r) ? "claimed" : r.left._tag));

    it("a key is claimed once per request: the same request again is fine, another is refused until the key expires", async () => {
      const key = `k-${process.pid}-${Date.now()}-${runs++}`;
      const t = Date.now();
      expect(await claim(key, "request-a", t)).toBe("claimed");
      expect(await claim(key, "request-a", t + 1_000)).toBe("claimed");
      expect(await claim(key, "request-b", t + 2_000)).toBe("IdempotencyKeyReused");
      // A day after the last claim (the table keeps whole seconds), the key is free again.
      expect(await claim(key, "request-b", t + 1_000 + IDEMPOTENCY_KEY_TTL_MS + 5_000)).toBe(
        "claimed",
      );
      expect(await claim(`${key}-other`, "request-b", t)).toBe("claimed");
    });
  });
