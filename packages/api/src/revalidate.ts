import { createHash } from "node:crypto";
import { Schema } from "effect";
import type { Context } from "hono";

/**
 * Whether an `If-None-Match` header names the tag (RFC 9110 §13.1.2: weak
 * comparison, a list of tags, or `*`).
 */
export const noneMatchHits = (header: string | undefined, tag: string): boolean => {
  if (header === undefined) return false;
  if (header.trim() === "*") return true;
  const opaque = (t: string) => t.trim().replace(/^W\//, "");
  return header.split(",").some((t) => opaque(t) === opaque(tag));
};

/**
 * A GET's answer with a weak ETag, or `304 Not Modified` (no body) when the
 * client's copy has the same meaning. The console polls the fleet and the
 * alerts with it: an unchanged page costs the server no body and the browser
 * no rendering.
 *
 * `meaning` drops what changes on every read without changing what the
 * answer says (a connected device's `last_seen` is the time of the read):
 * the tag is weak (RFC 9110 §8.8.1) because two answers with one tag are
 * equivalent, not byte for byte the same.
 */
export const sendRevalidated = <A, I>(
  c: Context,
  schema: Schema.Schema<A, I>,
  value: NoInfer<A>,
  meaning: (encoded: I) => unknown = (encoded) => encoded,
) => {
  const encoded = Schema.encodeSync(schema)(value);
  const digest = createHash("sha256")
    .update(JSON.stringify(meaning(encoded)))
    .digest("base64url")
    .slice(0, 27);
  const tag = `W/"${digest}"`;
  c.header("etag", tag);
  if (noneMatchHits(c.req.header("if-none-match"), tag)) return c.body(null, 304);
  return c.json(encoded as object, 200);
};
