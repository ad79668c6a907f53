/** Who is signed in, kept for this browser tab only (sessionStorage): closing the tab signs out. */
export interface Session {
  readonly token: string;
  readonly email: string;
  readonly role: "clinician" | "viewer";
  readonly expiresAt: number;
}

const KEY = "medusa.session";

export const loadSession = (now = Date.now()): Session | undefined => {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return undefined;
    const s = JSON.parse(raw) as Session;
    return s.expiresAt > now ? s : undefined;
  } catch {
    return undefined;
  }
};

export const saveSession = (s: Session | undefined) => {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
};

/**
 * What a form holds, kept as it is typed: an expired session sends the user to
 * sign in again, and the form is as they left it when they come back.
 */
export const loadDraft = (id: string): Record<string, string> => {
  try {
    return JSON.parse(sessionStorage.getItem(`medusa.draft.${id}`) ?? "{}");
  } catch {
    return {};
  }
};
export const saveDraft = (id: string, values: Record<string, string> | undefined) => {
  if (values) sessionStorage.setItem(`medusa.draft.${id}`, JSON.stringify(values));
  else sessionStorage.removeItem(`medusa.draft.${id}`);
};

/** Devices opened in this browser, newest first: the devices list until the fleet route exists. */
const RECENT = "medusa.recent-devices";
export const recentDevices = (): ReadonlyArray<string> => {
  try {
    const list = JSON.parse(localStorage.getItem(RECENT) ?? "[]");
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === "string") : [];
  } catch {
    return [];
  }
};
export const rememberDevice = (id: string) => {
  const list = [id, ...recentDevices().filter((d) => d !== id)].slice(0, 50);
  localStorage.setItem(RECENT, JSON.stringify(list));
};
