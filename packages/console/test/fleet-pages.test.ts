import { describe, expect, it } from "vitest";
import type { Api, Revalidated } from "../src/api.js";
import { explainConfigurationRefusal } from "../src/configuration-refusals.js";
import { pagedReader } from "../src/fleet.js";
import { ago } from "../src/time.js";

const PROBLEMS = "https://medusa-link.dev/problems/";

/** An API whose list has `pages` (each with its tag), answering 304 to a page's own tag. */
const fakeApi = (pages: Array<{ items: Array<string>; tag: string }>) => {
  const asked: Array<{ path: string; etag: string | null }> = [];
  const api: Api = {
    get: () => Promise.reject(new Error("not used")),
    getText: () => Promise.reject(new Error("not used")),
    getBytes: () => Promise.reject(new Error("not used")),
    post: () => Promise.reject(new Error("not used")),
    send: () => Promise.reject(new Error("not used")),
    getIfChanged: async <T>(path: string, etag: string | null): Promise<Revalidated<T>> => {
      asked.push({ path, etag });
      const cursor = /cursor=(\d+)/.exec(path)?.[1];
      const i = cursor === undefined ? 0 : Number(cursor);
      const page = pages[i] as { items: Array<string>; tag: string };
      if (etag === page.tag) return { unchanged: true };
      const next = i + 1 < pages.length ? String(i + 1) : null;
      return { unchanged: false, etag: page.tag, body: { items: page.items, next } as T };
    },
  };
  return { api, asked };
};
const itemsOf = (body: unknown) => body as { items: Array<string>; next: string | null };

describe("reading every page of a list again with each page's ETag", () => {
  it("reads all pages, then sends each page's tag; unchanged pages cost no body and no render", async () => {
    const pages = [
      { items: ["a", "b"], tag: 'W/"1"' },
      { items: ["c"], tag: 'W/"2"' },
    ];
    const { api, asked } = fakeApi(pages);
    const read = pagedReader(api, "/api/devices?status=offline", itemsOf);
    expect(await read()).toEqual({ items: ["a", "b", "c"], changed: true });
    expect(asked).toEqual([
      { path: "/api/devices?status=offline&limit=500", etag: null },
      { path: "/api/devices?status=offline&limit=500&cursor=1", etag: null },
    ]);
    asked.length = 0;
    expect(await read()).toEqual({ items: ["a", "b", "c"], changed: false });
    expect(asked.map((a) => a.etag)).toEqual(['W/"1"', 'W/"2"']);

    // The second page changes: it is read in full, and the list says it changed.
    pages[1] = { items: ["c", "d"], tag: 'W/"3"' };
    expect(await read()).toEqual({ items: ["a", "b", "c", "d"], changed: true });
    expect(await read()).toEqual({ items: ["a", "b", "c", "d"], changed: false });
  });

  it("a list that shrinks to one page drops the pages after it", async () => {
    const pages = [
      { items: ["a"], tag: 'W/"1"' },
      { items: ["b"], tag: 'W/"2"' },
    ];
    const { api } = fakeApi(pages);
    const read = pagedReader(api, "/api/alerts", itemsOf);
    expect((await read()).items).toEqual(["a", "b"]);
    pages.pop();
    pages[0] = { items: ["a"], tag: 'W/"4"' };
    expect(await read()).toEqual({ items: ["a"], changed: true });
  });
});

describe("configuration refusals in plain words, next to their field", () => {
  it("names the field the API's validation error concerns, in the form's words", () => {
    expect(
      explainConfigurationRefusal({
        type: `${PROBLEMS}validation-error`,
        title: "Invalid request",
        status: 400,
        errors: [
          {
            path: "sensor.sample_rate_hz",
            message: "sample_rate_hz must be from 1 to 50 Hz, or 100, 200, 400 Hz",
          },
          { path: "publish.interval_ms", message: "interval_ms must be between 100 and 60000" },
        ],
      }),
    ).toEqual({
      sample_rate_hz: "The sample rate must be from 1 to 50 Hz, or 100, 200, 400 Hz.",
      interval_ms: "The interval must be between 100 and 60000.",
    });
    expect(
      explainConfigurationRefusal({
        type: `${PROBLEMS}validation-error`,
        title: "Invalid request",
        status: 400,
        errors: [
          { path: "duration_s", message: "duration_s must be between 1 and 3600" },
          {
            path: "interval_ms",
            message: "live_interval_ms must be between 100 and 60000",
          },
        ],
      }),
    ).toEqual({
      duration_min: "Live mode lasts 1 to 60 minutes.",
      live_interval_ms: "The interval must be between 100 and 60000.",
    });
  });

  it("says the rest about the form", () => {
    const form = (slug: string) =>
      explainConfigurationRefusal({ type: `${PROBLEMS}${slug}`, title: slug, status: 409 }).form;
    expect(form("forbidden")).toBe("Your role may read but not change a device's settings.");
    expect(form("concurrent-change")).toContain("Try again");
    expect(form("shadow-unavailable")).toContain("unavailable");
    expect(form("network-error")).toContain("did not answer");
    expect(form("something-new")).toBe("The server refused the change: something-new.");
  });
});

describe("how long ago", () => {
  it("in seconds, minutes, hours, days", () => {
    const now = 1_000_000_000;
    expect(ago(now - 12_000, now)).toBe("12 s ago");
    expect(ago(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(ago(now - 3 * 3_600_000, now)).toBe("3 h ago");
    expect(ago(now - 2 * 86_400_000, now)).toBe("2 d ago");
    // A clock a little ahead of the browser's: not "-1 s".
    expect(ago(now + 800, now)).toBe("0 s ago");
  });
});
