/**
 * The fleet routes as the console reads them (`GET /api/devices`,
 * `GET /api/alerts`; the API's `FleetDevicesPage` and `AlertsPage`), and the
 * polling that keeps a page live.
 *
 * Live updates are polled with `If-None-Match`, not pushed with server-sent
 * events: in AWS the API is a Lambda behind API Gateway, which holds no
 * connection open for long (a stream would be cut at the integration's
 * timeout and billed for while it waits), and the fleet changes from several
 * sources (presence, assignments, alerts, samples) that share no stream to
 * follow. A page the server still has answers 304 with no body (the API's
 * weak ETag ignores a connected device's `last_seen`, which is the time of the
 * read), so an idle fleet costs one small answer per poll and no rendering.
 */
import { type Api, enc } from "./api.js";

export type FleetFilter = "available" | "assigned" | "offline" | "alert";

export interface Alert {
  readonly alert_id: string;
  readonly kind: "data-gap";
  readonly device_id: string;
  readonly patient_id: string;
  readonly assignment_start: number;
  /** The newest sample's time when the gap was found (or the assignment's start). */
  readonly since: number;
  readonly raised_at: number;
  readonly closed_at: number | null;
  readonly close_reason: "data-resumed" | "assignment-ended" | null;
  readonly acknowledged_at: number | null;
  readonly acknowledged_by: string | null;
}

export interface FleetDevice {
  readonly device_id: string;
  readonly connected: boolean;
  readonly last_seen: number | null;
  readonly last_sample: number | null;
  readonly last_connected_at: number | null;
  readonly last_disconnected_at: number | null;
  readonly disconnect_reason: string | null;
  readonly assignment: {
    readonly patient_id: string;
    readonly patient_name: string | null;
    readonly assigned_by: string;
    readonly assignment_timestamp: number;
  } | null;
  readonly open_alerts: ReadonlyArray<Alert>;
}

export interface FleetDeviceDetail extends FleetDevice {
  readonly recent_alerts: ReadonlyArray<Alert>;
}

/** How often a live page asks again (while the tab is visible). */
export const POLL_MS = 3_000;
/** The API's largest page: 200 devices are one request. */
const PAGE_LIMIT = 500;

interface CachedPage<T> {
  readonly cursor: string | null;
  readonly etag: string | null;
  readonly items: ReadonlyArray<T>;
  readonly next: string | null;
}

/**
 * Every page of a paginated list, read again with each page's ETag: a page
 * the server still has costs no body. Pages after one that changed are read
 * afresh when its next cursor changed.
 */
export const pagedReader = <T>(
  api: Api,
  path: string,
  itemsOf: (body: unknown) => { items: ReadonlyArray<T>; next: string | null },
) => {
  let pages: Array<CachedPage<T>> = [];
  return async (): Promise<{ items: ReadonlyArray<T>; changed: boolean }> => {
    const fresh: Array<CachedPage<T>> = [];
    let cursor: string | null = null;
    let changed = false;
    for (let i = 0; ; i++) {
      const held = pages[i];
      const reuse = held !== undefined && held.cursor === cursor ? held : undefined;
      const sep = path.includes("?") ? "&" : "?";
      const url = `${path}${sep}limit=${PAGE_LIMIT}${cursor ? `&cursor=${enc(cursor)}` : ""}`;
      const answer = await api.getIfChanged<unknown>(url, reuse?.etag ?? null);
      let page: CachedPage<T>;
      if (answer.unchanged && reuse) page = reuse;
      else {
        const { items, next } = itemsOf(answer.unchanged ? undefined : answer.body);
        page = { cursor, etag: answer.unchanged ? null : answer.etag, items, next };
        changed = true;
      }
      fresh.push(page);
      cursor = page.next;
      if (cursor === null) break;
    }
    if (fresh.length !== pages.length) changed = true;
    pages = fresh;
    return { items: fresh.flatMap((p) => p.items), changed };
  };
};
