import { describe, expect, it } from "vitest";
import { type Api, ApiRefusal, type Problem, type Revalidated } from "../src/api.js";
import { revalidatedRead } from "../src/revalidated-read.js";

type Answer = { body: { n: number }; etag: string | null } | { problem: Problem };

/** An API answering the reads in turn; a tag it gave back is a 304 while the next answer has it too. */
const scripted = (answers: Array<Answer>) => {
  const asked: Array<string | null> = [];
  let i = 0;
  const api: Api = {
    get: () => Promise.reject(new Error("not used")),
    getText: () => Promise.reject(new Error("not used")),
    getBytes: () => Promise.reject(new Error("not used")),
    post: () => Promise.reject(new Error("not used")),
    send: () => Promise.reject(new Error("not used")),
    getIfChanged: async <T>(_path: string, etag: string | null): Promise<Revalidated<T>> => {
      asked.push(etag);
      const a = answers[Math.min(i++, answers.length - 1)] as Answer;
      if ("problem" in a) throw new ApiRefusal(a.problem);
      if (etag !== null && etag === a.etag) return { unchanged: true };
      return { unchanged: false, etag: a.etag, body: a.body as T };
    },
  };
  return { api, asked };
};

type Held = { state: "ok"; n: number } | { state: "unavailable"; why: string };
const readOf = (api: Api) =>
  revalidatedRead<{ n: number }, Held>(
    api,
    "/x",
    (b) => ({ state: "ok", n: b.n }),
    (e) => (e.problem.status === 503 ? { state: "unavailable", why: e.message } : undefined),
  );
const unavailable: Problem = { type: "about:blank", title: "Service Unavailable", status: 503 };

describe("a resource read again and again", () => {
  it("sends the ETag it holds; a 304 keeps what it holds, unchanged", async () => {
    const { api, asked } = scripted([
      { body: { n: 1 }, etag: '"a"' },
      { body: { n: 1 }, etag: '"a"' },
      { body: { n: 2 }, etag: '"b"' },
    ]);
    const read = readOf(api);
    expect(await read()).toEqual({ items: { state: "ok", n: 1 }, changed: true });
    expect(await read()).toEqual({ items: { state: "ok", n: 1 }, changed: false });
    expect(await read()).toEqual({ items: { state: "ok", n: 2 }, changed: true });
    expect(asked).toEqual([null, '"a"', '"a"']);
  });

  it("without ETags, changed only when the answer differs", async () => {
    const { api, asked } = scripted([
      { body: { n: 1 }, etag: null },
      { body: { n: 1 }, etag: null },
      { body: { n: 3 }, etag: null },
    ]);
    const read = readOf(api);
    expect((await read()).changed).toBe(true);
    expect((await read()).changed).toBe(false);
    expect(await read()).toEqual({ items: { state: "ok", n: 3 }, changed: true });
    expect(asked).toEqual([null, null, null]);
  });

  it("holds a refusal it knows (503: unavailable), forgetting the tag; throws any other", async () => {
    const { api, asked } = scripted([
      { body: { n: 1 }, etag: '"a"' },
      { problem: unavailable },
      { body: { n: 1 }, etag: '"a"' },
      { problem: { type: "about:blank", title: "Forbidden", status: 403 } },
    ]);
    const read = readOf(api);
    await read();
    expect(await read()).toEqual({
      items: { state: "unavailable", why: new ApiRefusal(unavailable).message },
      changed: true,
    });
    // Not the old tag: what it holds is no longer that answer.
    expect(await read()).toEqual({ items: { state: "ok", n: 1 }, changed: true });
    await expect(read()).rejects.toBeInstanceOf(ApiRefusal);
    expect(asked).toEqual([null, '"a"', null, '"a"']);
  });
});
