import { type Api, ApiRefusal, type Revalidated } from "./api.js";

/**
 * One resource read again and again (for `usePolled`): with the ETag of the
 * answer it holds (`If-None-Match`; a 304 keeps what it holds), `changed` only
 * when what it holds now differs (its JSON) from before, so that the page does
 * not render again for the same answer. `ok` makes what is held of an answer;
 * `refused` of a refusal it holds too (e.g. a 503 as "unavailable"), undefined
 * for any other, which the read throws.
 */
export const revalidatedRead = <Body, Held>(
  api: Api,
  path: string,
  ok: (body: Body) => Held,
  refused: (e: ApiRefusal) => Held | undefined,
) => {
  let etag: string | null = null;
  let held: { readonly value: Held; readonly text: string } | undefined;
  const hold = (value: Held, tag: string | null) => {
    etag = tag;
    const text = JSON.stringify(value);
    const changed = held === undefined || held.text !== text;
    if (changed) held = { value, text };
    return { items: (held as { readonly value: Held }).value, changed };
  };
  return async (): Promise<{ items: Held; changed: boolean }> => {
    let answer: Revalidated<Body>;
    try {
      answer = await api.getIfChanged<Body>(path, held === undefined ? null : etag);
    } catch (e) {
      const r = e instanceof ApiRefusal ? refused(e) : undefined;
      if (r === undefined) throw e;
      return hold(r, null);
    }
    if (answer.unchanged) {
      if (held) return { items: held.value, changed: false };
      throw new ApiRefusal({ type: "about:blank", title: "an unasked-for 304", status: 304 });
    }
    return hold(ok(answer.body), answer.etag);
  };
};
