import { createHmac, timingSafeEqual } from "node:crypto";
import { InvalidCursor } from "@medusa/domain";
import { Either } from "effect";

/**
 * Timeline cursors as clients see them: the store's cursor and an HMAC of it,
 * so a client can hand back only a cursor this API gave out — a crafted one
 * is an `InvalidCursor` before any store sees it. Every instance of one API
 * must share the key (`MEDUSA_CURSOR_SECRET`, or one derived from the JWT
 * secret), or a page from one instance is refused by the next.
 */
export const cursorSeal = (key: Uint8Array | string) => {
  const mac = (raw: string) => createHmac("sha256", key).update(raw).digest("base64url");
  return {
    seal: (raw: string): string => `${raw}.${mac(raw)}`,
    open: (sealed: string): Either.Either<string, InvalidCursor> => {
      const dot = sealed.lastIndexOf(".");
      if (dot > 0 && sealed.length <= 2_048) {
        const raw = sealed.slice(0, dot);
        const given = Buffer.from(sealed.slice(dot + 1), "base64url");
        const expected = Buffer.from(mac(raw), "base64url");
        if (given.length === expected.length && timingSafeEqual(given, expected))
          return Either.right(raw);
      }
      return Either.left(new InvalidCursor({ reason: "cursor is not one this API returned" }));
    },
  };
};

/** The cursor key of an API verifying HS256 tokens, when none is set: derived, never the secret itself. */
export const cursorKeyFrom = (jwtSecret: string): Buffer =>
  createHmac("sha256", jwtSecret).update("medusa timeline cursor").digest();
