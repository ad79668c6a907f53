import { useEffect, useRef, useState } from "preact/hooks";
import { ApiRefusal } from "./api.js";
import { POLL_MS } from "./fleet.js";

export interface Polled<T> {
  /** Undefined until the first answer. */
  readonly data: T | undefined;
  /** The last read that failed, in words; cleared by the next that works. */
  readonly error: string | undefined;
  /** When the server last answered (changed or not). */
  readonly checkedAt: number | undefined;
  /** Read again now (after a command). */
  readonly refresh: () => void;
}

/**
 * Reads with `read` now and every `POLL_MS` while the tab is visible (at once
 * when it becomes visible again); `read` answers `changed: false` when nothing
 * changed, and the page does not render again.
 */
export const usePolled = <T>(
  read: () => Promise<{ items: T; changed: boolean }>,
  deps: ReadonlyArray<unknown>,
): Polled<T> => {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>();
  const [checkedAt, setCheckedAt] = useState<number | undefined>();
  const kick = useRef<() => void>(() => {});

  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running = false;
    // Asked for while a read was under way (a command's answer): read again after it.
    let again = false;
    setData(undefined);
    const tick = async () => {
      if (!live) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      clearTimeout(timer);
      try {
        const r = await read();
        if (!live) return;
        if (r.changed) setData(r.items);
        setError(undefined);
        setCheckedAt(Date.now());
      } catch (e) {
        if (live) setError(e instanceof ApiRefusal ? e.message : "could not be read");
      } finally {
        running = false;
        if (live && (again || !document.hidden)) timer = setTimeout(tick, again ? 0 : POLL_MS);
        again = false;
      }
    };
    const onVisible = () => {
      if (!document.hidden) void tick();
    };
    kick.current = () => void tick();
    document.addEventListener("visibilitychange", onVisible);
    void tick();
    return () => {
      live = false;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, deps);

  return { data, error, checkedAt, refresh: () => kick.current() };
};
