/**
 * The API as the console uses it: the same routes and JSON as
 * `packages/api/README.md` documents, with the signed-in user's token.
 * The shapes below are the API's response schemas (`@medusa/api`'s
 * `schemas.ts`), written out so the bundle carries no schema library.
 */

export interface Assignment {
  readonly device_id: string;
  readonly patient_id: string;
  readonly patient_name: string | null;
  readonly assigned_by: string;
  readonly assignment_timestamp: number;
  readonly assignment_end: number | null;
  readonly ended_by: string | null;
  readonly status: "active" | "completed" | "device_returned";
  readonly notes: string | null;
}

export interface CurrentPatient {
  readonly device_id: string;
  readonly patient: {
    readonly patient_id: string;
    readonly patient_name: string | null;
    readonly assignment_timestamp: number;
    readonly assigned_by: string;
    readonly notes: string | null;
  } | null;
}

export interface Sample {
  readonly device_id: string;
  readonly timestamp: number;
  readonly accel_x: number;
  readonly accel_y: number;
  readonly accel_z: number;
  readonly magnitude: number;
  readonly sequence: number;
  readonly temperature?: number;
}

/** An RFC 9457 problem as the API sends it (`application/problem+json`). */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly errors?: ReadonlyArray<{ readonly path: string; readonly message: string }>;
  readonly [extension: string]: unknown;
}

/** A refusal from the API, or no answer at all (`status` 0). */
export class ApiRefusal extends Error {
  constructor(readonly problem: Problem) {
    super(problem.detail ?? problem.title);
  }
  /** The problem type's last segment: `device-already-assigned`, `validation-error`, … */
  get slug(): string {
    return this.problem.type.split("/").pop() ?? "";
  }
}

export const NO_ANSWER: Problem = {
  type: "urn:medusa-console/network-error",
  title: "No answer",
  status: 0,
  detail: "the server did not answer",
};

/** A conditional read's answer: the new body and its ETag, or `unchanged` (304). */
export type Revalidated<T> =
  | { readonly unchanged: true }
  | { readonly unchanged: false; readonly body: T; readonly etag: string | null };

export interface Api {
  readonly get: <T>(path: string) => Promise<T>;
  readonly post: <T>(path: string, body: unknown, idempotencyKey?: string) => Promise<T>;
  /** Any other method (`PATCH`, `DELETE`). */
  readonly send: <T>(method: string, path: string, body?: unknown) => Promise<T>;
  /** A GET with `If-None-Match`: `unchanged` when the server still has `etag`. */
  readonly getIfChanged: <T>(path: string, etag: string | null) => Promise<Revalidated<T>>;
}

/** The API with a bearer token; `onUnauthorized` runs when the token is no longer taken. */
export const apiClient = (token: string, onUnauthorized: () => void, base = ""): Api => {
  const call = async <T>(
    method: string,
    path: string,
    body?: unknown,
    key?: string,
    etag?: string | null,
    seen?: (etag: string | null, unchanged: boolean) => void,
  ) => {
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": "application/json" }),
          ...(key === undefined ? {} : { "idempotency-key": key }),
          ...(etag ? { "if-none-match": etag } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch {
      throw new ApiRefusal(NO_ANSWER);
    }
    seen?.(response.headers.get("etag"), response.status === 304);
    if (response.status === 304) return undefined as T;
    const text = await response.text();
    let json: unknown;
    try {
      json = text === "" ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      if (response.status === 401) onUnauthorized();
      const problem =
        typeof json === "object" && json !== null && "type" in json
          ? (json as Problem)
          : { type: "about:blank", title: response.statusText, status: response.status };
      throw new ApiRefusal(problem);
    }
    return json as T;
  };
  return {
    get: (path) => call("GET", path),
    post: (path, body, key) => call("POST", path, body, key),
    send: (method, path, body) => call(method, path, body),
    getIfChanged: async <T>(path: string, etag: string | null) => {
      let answer: { etag: string | null; unchanged: boolean } = { etag: null, unchanged: false };
      const body = await call<T>("GET", path, undefined, undefined, etag, (tag, unchanged) => {
        answer = { etag: tag, unchanged };
      });
      return answer.unchanged
        ? { unchanged: true as const }
        : { unchanged: false as const, body, etag: answer.etag };
    },
  };
};

export const enc = encodeURIComponent;
