import {
  at,
  byteLength,
  deeperThan,
  has,
  isObject,
  type Json,
  type JsonObject,
  jsonEqual,
  put,
} from "./json.js";

/**
 * The AWS IoT Device Shadow service's document rules, as pure functions: what
 * an update, a get and a delete do to a stored shadow and what they answer.
 * The specification is AWS's developer guide ("Device Shadow service
 * documents", "Interacting with shadows", "Device Shadow error messages");
 * where it is silent, AWS's own local implementation of the service
 * (aws-greengrass-shadow-manager) decides, and each such choice is named
 * where it is made. No clock: `nowMs` comes in; timestamps in documents are
 * epoch seconds, as AWS writes them.
 */

/** "The device's shadow supports 8 KB of data only": desired and reported, as stored, together. */
export const SHADOW_STATE_LIMIT_BYTES = 8 * 1024;
/** "The client token can be no longer than 64 bytes." */
export const MAX_CLIENT_TOKEN_BYTES = 64;
/**
 * "JSON contains too many levels of nesting; maximum is 6": `desired` and
 * `reported` count as level 1, as AWS's Greengrass shadow manager counts
 * (which matches the quota table's "depth 8" counted from the document root).
 */
export const MAX_STATE_DEPTH = 6;
/** "More than 10 in-flight requests on a single connection" are refused with 429. */
export const MAX_IN_FLIGHT_REQUESTS = 10;
/** A shadow re-created within 48 hours of its deletion continues its version; later, from 0. */
export const DELETED_VERSION_KEPT_MS = 48 * 60 * 60 * 1000;
/** Shadow names: 1-64 characters of `[a-zA-Z0-9:_-]`. */
export const SHADOW_NAME = /^[a-zA-Z0-9:_-]{1,64}$/;

/** A rejection as the service documents it: an HTTP status code and its message. */
export interface ShadowFailure {
  readonly code: number;
  readonly message: string;
}

const failure = (code: number, message: string): ShadowFailure => ({ code, message });

/** Every rejection, with AWS's documented text. */
export const SHADOW_ERRORS = {
  invalidJson: failure(400, "Invalid JSON"),
  missingState: failure(400, "Missing required node: state"),
  stateNotObject: failure(400, "State node must be an object"),
  desiredNotObject: failure(400, "Desired node must be an object"),
  reportedNotObject: failure(400, "Reported node must be an object"),
  invalidVersion: failure(400, "Invalid version"),
  invalidClientToken: failure(400, "Invalid clientToken"),
  tooDeep: failure(400, `JSON contains too many levels of nesting; maximum is ${MAX_STATE_DEPTH}`),
  invalidNode: failure(400, "State contains an invalid node"),
  versionConflict: failure(409, "Version conflict"),
  tooLarge: failure(413, "The payload exceeds the maximum size allowed"),
  unsupportedEncoding: failure(415, "Unsupported documented encoding; supported encoding is UTF-8"),
  // AWS documents the condition, not the text: the status's reason phrase.
  tooManyRequests: failure(429, "Too Many Requests"),
  internal: failure(500, "Internal service failure"),
} as const;

/** "No shadow exists with name: '<name>'" (the classic shadow is named by its thing). */
export const shadowNotFound = (thing: string, shadowName?: string): ShadowFailure =>
  failure(404, `No shadow exists with name: '${shadowName ?? thing}'`);

/** One shadow as stored: its state, the metadata of every leaf, its version. */
export interface ShadowRecord {
  /** The last version; kept when the shadow is deleted. */
  readonly version: number;
  /** When the shadow was deleted (epoch ms); absent while it exists. */
  readonly deletedAt?: number;
  readonly state: { readonly desired?: JsonObject; readonly reported?: JsonObject };
  readonly metadata: { readonly desired?: JsonObject; readonly reported?: JsonObject };
}

/** The error response document: `{code, message, timestamp, clientToken?}`. */
export interface ErrorDocument {
  readonly code: number;
  readonly message: string;
  readonly timestamp: number;
  readonly clientToken?: string;
}

export type Rejected = { readonly ok: false; readonly error: ErrorDocument };

export type UpdateOutcome =
  | Rejected
  | {
      readonly ok: true;
      readonly record: ShadowRecord;
      /** For `/update/accepted`: the request's state as sent, and the metadata of what it set. */
      readonly accepted: JsonObject;
      /** For `/update/delta`: every desired leaf that differs from reported, when there is one. */
      readonly delta: JsonObject | undefined;
      /** For `/update/documents`: the shadow before and after. */
      readonly documents: JsonObject;
    };

export type GetOutcome = Rejected | { readonly ok: true; readonly document: JsonObject };

export type DeleteOutcome =
  | Rejected
  | { readonly ok: true; readonly record: ShadowRecord; readonly accepted: JsonObject };

export const epochSeconds = (ms: number): number => Math.floor(ms / 1000);

/** Whether the record is a shadow that exists (not never created, not deleted). */
export const exists = (record: ShadowRecord | undefined): record is ShadowRecord =>
  record !== undefined && record.deletedAt === undefined;

const utf8 = new TextDecoder("utf-8", { fatal: true });

type Parsed =
  | { readonly ok: true; readonly json: unknown }
  | { readonly ok: false; readonly failure: ShadowFailure };

const parse = (payload: string | Uint8Array): Parsed => {
  let text: string;
  try {
    text = typeof payload === "string" ? payload : utf8.decode(payload);
  } catch {
    return { ok: false, failure: SHADOW_ERRORS.unsupportedEncoding };
  }
  try {
    return { ok: true, json: JSON.parse(text) };
  } catch {
    return { ok: false, failure: SHADOW_ERRORS.invalidJson };
  }
};

type Token = { readonly ok: true; readonly clientToken?: string } | Parsed;

/** The request's clientToken: a string of at most 64 bytes, or absent. */
const clientTokenOf = (request: JsonObject): Token => {
  if (!has(request, "clientToken")) return { ok: true };
  const token = request.clientToken;
  if (typeof token !== "string" || byteLength(token) > MAX_CLIENT_TOKEN_BYTES)
    return { ok: false, failure: SHADOW_ERRORS.invalidClientToken };
  return { ok: true, clientToken: token };
};

const rejected = (f: ShadowFailure, nowMs: number, clientToken?: string): Rejected => ({
  ok: false,
  error: {
    code: f.code,
    message: f.message,
    timestamp: epochSeconds(nowMs),
    ...(clientToken !== undefined ? { clientToken } : {}),
  },
});

/** An error document for a failure found outside the document rules (429, 500). */
export const errorDocument = (f: ShadowFailure, nowMs: number, clientToken?: string) =>
  rejected(f, nowMs, clientToken).error;

/** The clientToken of a request payload, if it has a valid one (for a 429 answered before parsing it). */
export const clientTokenOfPayload = (payload: string | Uint8Array): string | undefined => {
  const parsed = parse(payload);
  if (!parsed.ok || !isObject(parsed.json)) return undefined;
  const token = clientTokenOf(parsed.json);
  return token.ok && "clientToken" in token ? token.clientToken : undefined;
};

const SECTIONS = ["desired", "reported"] as const;

/** Whether a value holds `null` inside an array ("Arrays can't have null values"). */
const nullInArray = (value: Json, inArray = false): boolean => {
  if (value === null) return inArray;
  if (Array.isArray(value)) return value.some((v) => nullInArray(v, true));
  if (isObject(value)) return Object.values(value).some((v) => nullInArray(v, false));
  return false;
};

/**
 * A merge patch applied: `null` removes a key, objects merge key by key,
 * anything else (arrays included: "an update to an array replaces the whole
 * array") replaces. An object emptied by its nulls is removed too.
 */
export const mergeState = (base: JsonObject | undefined, patch: JsonObject): JsonObject => {
  const out: Record<string, Json> = {};
  if (base) for (const [k, v] of Object.entries(base)) put(out, k, v);
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) {
      delete out[k];
      continue;
    }
    if (isObject(v)) {
      const before = at(out, k);
      const merged = mergeState(isObject(before) ? before : undefined, v);
      // `{}` sent as a value is kept; an object that only held nulls is not.
      if (Object.keys(merged).length > 0 || !hasNull(v)) put(out, k, merged);
      else delete out[k];
      continue;
    }
    put(out, k, v);
  }
  return out;
};

const hasNull = (o: JsonObject): boolean =>
  Object.values(o).some((v) => v === null || (isObject(v) && hasNull(v)));

/**
 * "The Device Shadow service calculates the delta by iterating through each
 * field in the desired state and comparing it to the reported state": a
 * desired field reported differently or not at all is in the delta; nested
 * objects keep the path to the root with only the differing leaves; an array
 * that differs is copied whole. An empty desired object asks for nothing.
 */
export const deltaOf = (desired: JsonObject, reported: JsonObject | undefined): JsonObject => {
  const out: Record<string, Json> = {};
  for (const [k, d] of Object.entries(desired)) {
    const r = at(reported, k);
    if (isObject(d)) {
      const sub = deltaOf(d, isObject(r) ? r : undefined);
      if (Object.keys(sub).length > 0) put(out, k, sub);
      continue;
    }
    if (!jsonEqual(d, r)) put(out, k, d);
  }
  return out;
};

/** A value's metadata: `{timestamp}` for each leaf (null included), arrays element by element. */
export const metadataOf = (value: Json, timestamp: number): Json => {
  if (Array.isArray(value)) return value.map((v) => metadataOf(v, timestamp));
  if (isObject(value)) {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) put(out, k, metadataOf(v, timestamp));
    return out;
  }
  return { timestamp };
};

/**
 * The metadata of a section after an update: what the patch set is stamped
 * now, what it did not touch keeps its time, what it removed is gone.
 */
const mergeMetadata = (
  before: JsonObject | undefined,
  after: JsonObject,
  metadata: JsonObject | undefined,
  patch: JsonObject | undefined,
  timestamp: number,
): JsonObject => {
  const out: Record<string, Json> = {};
  for (const [k, value] of Object.entries(after)) {
    const old = at(metadata, k);
    if (patch === undefined || !has(patch, k)) {
      put(out, k, old ?? metadataOf(value, timestamp));
      continue;
    }
    const p = at(patch, k) as Json;
    const previous = at(before, k);
    if (isObject(p) && isObject(value) && isObject(previous) && isObject(old))
      put(out, k, mergeMetadata(previous, value, old, p, timestamp));
    else put(out, k, metadataOf(value, timestamp));
  }
  return out;
};

/** The delta's metadata: "its values are equal to the metadata in the desired field". */
const deltaMetadata = (delta: Json, desiredMetadata: Json | undefined, timestamp: number): Json => {
  if (isObject(delta) && isObject(desiredMetadata) && !isLeafMetadata(desiredMetadata)) {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(delta))
      put(out, k, deltaMetadata(v, at(desiredMetadata, k), timestamp));
    return out;
  }
  return desiredMetadata ?? metadataOf(delta, timestamp);
};

const isLeafMetadata = (m: JsonObject): boolean =>
  Object.keys(m).length === 1 && typeof m.timestamp === "number";

/** The bytes the 8 KB limit counts: desired and reported as stored ("metadata do not contribute"). */
export const stateBytes = (state: ShadowRecord["state"]): number =>
  SECTIONS.reduce((n, s) => {
    const section = state[s];
    return section === undefined ? n : n + byteLength(JSON.stringify(section));
  }, 0);

/** `{state, metadata, version}` of a stored shadow (the documents topic's previous and current). */
const snapshot = (record: ShadowRecord): JsonObject => ({
  state: sections(record.state),
  metadata: sections(record.metadata),
  version: record.version,
});

const sections = (s: {
  readonly desired?: JsonObject;
  readonly reported?: JsonObject;
}): JsonObject => ({
  ...(s.desired !== undefined ? { desired: s.desired } : {}),
  ...(s.reported !== undefined ? { reported: s.reported } : {}),
});

const nonEmpty = (o: JsonObject | undefined): JsonObject | undefined =>
  o !== undefined && Object.keys(o).length > 0 ? o : undefined;

/** The version a new write starts from: the deleted shadow's within 48 hours, else 0. */
const baseVersion = (record: ShadowRecord | undefined, nowMs: number): number => {
  if (record === undefined) return 0;
  if (record.deletedAt === undefined) return record.version;
  return nowMs - record.deletedAt < DELETED_VERSION_KEPT_MS ? record.version : 0;
};

/** Checks a request state document; the first failure found, as AWS lists them. */
const checkRequest = (request: JsonObject): ShadowFailure | undefined => {
  if (!has(request, "state")) return SHADOW_ERRORS.missingState;
  const state = request.state;
  if (state !== null && !isObject(state)) return SHADOW_ERRORS.stateNotObject;
  if (isObject(state)) {
    for (const key of Object.keys(state))
      if (key !== "desired" && key !== "reported") return SHADOW_ERRORS.invalidNode;
    const desired = at(state, "desired");
    if (desired !== undefined && desired !== null && !isObject(desired))
      return SHADOW_ERRORS.desiredNotObject;
    const reported = at(state, "reported");
    if (reported !== undefined && reported !== null && !isObject(reported))
      return SHADOW_ERRORS.reportedNotObject;
    if (deeperThan(desired, MAX_STATE_DEPTH) || deeperThan(reported, MAX_STATE_DEPTH))
      return SHADOW_ERRORS.tooDeep;
    // AWS documents the rule ("arrays can't have null values … will be rejected"), not its text.
    if ((desired && nullInArray(desired)) || (reported && nullInArray(reported)))
      return SHADOW_ERRORS.invalidJson;
  }
  if (has(request, "version")) {
    const v = request.version;
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)
      return SHADOW_ERRORS.invalidVersion;
  }
  return undefined;
};

/**
 * An `/update` (MQTT) or `UpdateThingShadow` (HTTP): the request state
 * document merged into the shadow, or the documented rejection. A `version`
 * in the request must be the shadow's current one (for a shadow that does
 * not exist: the version it would continue from, 0 when new); the merged
 * desired and reported must fit 8 KB.
 */
export const updateShadow = (
  record: ShadowRecord | undefined,
  payload: string | Uint8Array,
  nowMs: number,
): UpdateOutcome => {
  const parsed = parse(payload);
  if (!parsed.ok) return rejected(parsed.failure, nowMs);
  if (!isObject(parsed.json)) return rejected(SHADOW_ERRORS.invalidJson, nowMs);
  const request = parsed.json;
  const token = clientTokenOf(request);
  if (!token.ok) return rejected(token.failure, nowMs);
  const clientToken = "clientToken" in token ? token.clientToken : undefined;
  const bad = checkRequest(request);
  if (bad) return rejected(bad, nowMs, clientToken);

  const current = baseVersion(record, nowMs);
  if (has(request, "version") && request.version !== current)
    return rejected(SHADOW_ERRORS.versionConflict, nowMs, clientToken);

  const live = exists(record) ? record : undefined;
  const requestState = request.state as JsonObject | null;
  const timestamp = epochSeconds(nowMs);
  const state: { desired?: JsonObject; reported?: JsonObject } = {};
  const metadata: { desired?: JsonObject; reported?: JsonObject } = {};
  for (const section of SECTIONS) {
    const before = live?.state[section];
    // `"state": null` clears both sections; `"desired": null` clears one.
    const patch =
      requestState === null ? null : (at(requestState, section) as JsonObject | null | undefined);
    const after =
      patch === null ? undefined : patch === undefined ? before : mergeState(before, patch);
    const kept = nonEmpty(after);
    if (kept === undefined) continue;
    state[section] = kept;
    metadata[section] = mergeMetadata(
      before,
      kept,
      live?.metadata[section],
      patch ?? undefined,
      timestamp,
    );
  }
  if (stateBytes(state) > SHADOW_STATE_LIMIT_BYTES)
    return rejected(SHADOW_ERRORS.tooLarge, nowMs, clientToken);

  const next: ShadowRecord = { version: current + 1, state, metadata };
  const echo = requestState === null ? null : requestState;
  const accepted: JsonObject = {
    state: echo,
    metadata: echo === null ? {} : (metadataOf(echo, timestamp) as JsonObject),
    version: next.version,
    timestamp,
    ...(clientToken !== undefined ? { clientToken } : {}),
  };
  const delta = state.desired ? nonEmpty(deltaOf(state.desired, state.reported)) : undefined;
  return {
    ok: true,
    record: next,
    accepted,
    delta:
      delta === undefined
        ? undefined
        : {
            version: next.version,
            timestamp,
            state: delta,
            metadata: deltaMetadata(delta, metadata.desired, timestamp),
            ...(clientToken !== undefined ? { clientToken } : {}),
          },
    documents: {
      previous: live ? snapshot(live) : null,
      current: snapshot(next),
      timestamp,
      ...(clientToken !== undefined ? { clientToken } : {}),
    },
  };
};

/**
 * A request whose payload AWS reads only for its clientToken (`/get`,
 * `/delete`): empty, or a JSON object. For a get, anything else is refused as
 * invalid JSON; a delete's content is otherwise ignored.
 */
const tokenOnly = (
  payload: string | Uint8Array,
  strict: boolean,
):
  | { readonly ok: true; readonly clientToken?: string }
  | { readonly ok: false; f: ShadowFailure } => {
  if ((typeof payload === "string" ? payload.length : payload.byteLength) === 0)
    return { ok: true };
  const parsed = parse(payload);
  if (!parsed.ok) return strict ? { ok: false, f: parsed.failure } : { ok: true };
  if (!isObject(parsed.json))
    return strict ? { ok: false, f: SHADOW_ERRORS.invalidJson } : { ok: true };
  const token = clientTokenOf(parsed.json);
  if (!token.ok) return strict ? { ok: false, f: token.failure } : { ok: true };
  return token;
};

/**
 * A `/get` or `GetThingShadow`: the whole document — desired, reported, the
 * delta when they differ, the metadata of each (the delta's is desired's) —
 * or 404 when there is no shadow.
 */
export const getShadow = (
  record: ShadowRecord | undefined,
  payload: string | Uint8Array,
  nowMs: number,
  thing: string,
  shadowName?: string,
): GetOutcome => {
  const request = tokenOnly(payload, true);
  if (!request.ok) return rejected(request.f, nowMs);
  const clientToken = request.clientToken;
  if (!exists(record)) return rejected(shadowNotFound(thing, shadowName), nowMs, clientToken);
  const timestamp = epochSeconds(nowMs);
  const { desired, reported } = record.state;
  const delta = desired ? nonEmpty(deltaOf(desired, reported)) : undefined;
  return {
    ok: true,
    document: {
      state: { ...sections(record.state), ...(delta ? { delta } : {}) },
      metadata: {
        ...sections(record.metadata),
        ...(delta ? { delta: deltaMetadata(delta, record.metadata.desired, timestamp) } : {}),
      },
      version: record.version,
      timestamp,
      ...(clientToken !== undefined ? { clientToken } : {}),
    },
  };
};

/**
 * A `/delete` or `DeleteThingShadow`: the shadow is gone, its version kept
 * ("deleting a shadow does not reset its version number to 0"); 404 when
 * there is none.
 */
export const deleteShadow = (
  record: ShadowRecord | undefined,
  payload: string | Uint8Array,
  nowMs: number,
  thing: string,
  shadowName?: string,
): DeleteOutcome => {
  const request = tokenOnly(payload, false);
  const clientToken = request.ok ? request.clientToken : undefined;
  if (!exists(record)) return rejected(shadowNotFound(thing, shadowName), nowMs, clientToken);
  return {
    ok: true,
    record: { version: record.version, deletedAt: nowMs, state: {}, metadata: {} },
    accepted: {
      version: record.version,
      timestamp: epochSeconds(nowMs),
      ...(clientToken !== undefined ? { clientToken } : {}),
    },
  };
};
