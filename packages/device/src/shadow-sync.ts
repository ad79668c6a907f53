import { randomUUID } from "node:crypto";
import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import {
  isObject,
  type JsonObject,
  MAX_CLIENT_TOKEN_BYTES,
  mergeState,
  SHADOW_STATE_LIMIT_BYTES,
  shadowTopic,
} from "@medusa/adapters/shadow";
import {
  type DeviceSettings,
  MAX_REFUSALS,
  type ReportedDeviceState,
  readDesiredSettings,
  type SettingRefusal,
} from "@medusa/domain";
import { detached, errorText } from "./errors.js";

/** How long a shadow request waits for its answer, at most. */
export const SHADOW_ANSWER_TIMEOUT_MS = 10_000;
/** How often the reported state is refreshed while nothing else sends it (status fields age). */
export const SHADOW_REPORT_EVERY_MS = 300_000;
/** After a report that did not get through while connected (timeout, 429, 500), the next try. */
export const SHADOW_RETRY_MS = 5_000;
/** A report refused with 409 (the shadow changed meanwhile) is tried again after a fresh get, this many times. */
const CONFLICT_RETRIES = 3;

/** What applying desired settings did: whether anything changed, and what could not be applied. */
export interface ApplyOutcome {
  readonly changed: boolean;
  readonly refused: ReadonlyArray<SettingRefusal>;
}

export interface ShadowSyncOptions {
  readonly thing: string;
  readonly transport: MqttConnectionService;
  /** Takes valid settings (each already checked with the configuration file's rules). */
  readonly apply: (settings: DeviceSettings) => Promise<ApplyOutcome>;
  /** The state to report now, with the refusals given. */
  readonly reported: (refused: ReadonlyArray<SettingRefusal>) => Promise<ReportedDeviceState>;
  readonly log: (line: string) => void;
  readonly timeoutMs?: number;
  readonly reportEveryMs?: number;
  readonly retryMs?: number;
  readonly newToken?: () => string;
}

type Answer = { readonly accepted: boolean; readonly body: JsonObject };

/** The shadow answered a request with a refusal (its code and message). */
class ShadowRefused extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(`${code} ${message}`);
  }
}

const RESPONSES = [
  "update/accepted",
  "update/rejected",
  "update/delta",
  "get/accepted",
  "get/rejected",
] as const;

const utf8 = new TextDecoder();
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8");

/**
 * The device side of its classic shadow. On every connection: subscribe to
 * the response topics (SUBACK awaited), then `get`, take the desired state,
 * report. Every `delta` is applied as it comes. Each desired setting is read
 * with the configuration file's rule: a valid one is applied, an invalid one
 * reported as refused with the reason, never half of one.
 *
 * Every request carries a clientToken and waits a bounded time for its
 * answer. Reports carry the shadow's version: a 409 (the cloud changed the
 * desired state meanwhile) is followed by a fresh get, the desired state
 * applied again, and the report sent again. Offline, nothing is queued: the
 * latest state is reported on the next connection. A report is kept under
 * the 8 KB limit (desired and reported together).
 */
export class ShadowSync {
  private readonly pending = new Map<
    string,
    { resolve: (a: Answer) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();
  private readonly timeoutMs: number;
  private readonly newToken: () => string;
  /** The shadow's version as last seen; undefined before the first answer (or when there is none). */
  private version: number | undefined;
  /** The whole desired state as last known (a get, then each delta merged in). */
  private desired: JsonObject = {};
  private refused: ReadonlyArray<SettingRefusal> = [];
  /** A report is owed (something changed, or the last one did not get through). */
  private dirty = true;
  /** Work on the shadow, one piece at a time. */
  private chain: Promise<void> = Promise.resolve();
  private queued = { sync: false, report: false, delta: false };
  /** Requests in a row that got no answer or a refusal: the next try waits longer. */
  private failures = 0;
  /** The newest delta not handled yet (each delta holds every differing desired value). */
  private nextDelta: JsonObject | undefined;
  private reportTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly counts = { gets: 0, reports: 0, conflicts: 0, deltas: 0, timeouts: 0 };

  constructor(private readonly options: ShadowSyncOptions) {
    this.timeoutMs = options.timeoutMs ?? SHADOW_ANSWER_TIMEOUT_MS;
    this.newToken = options.newToken ?? randomUUID;
  }

  /** Starts syncing: on every connection from now on (and now, if connected). */
  start(): void {
    const { transport } = this.options;
    transport.onConnect(() => this.enqueue("sync", () => this.sync()));
    transport.onDisconnect(() => {
      for (const [token, p] of this.pending) {
        clearTimeout(p.timer);
        p.reject(new Error("the connection closed before the shadow answered"));
        this.pending.delete(token);
      }
    });
    this.reportTimer = setInterval(
      () => this.requestReport(),
      this.options.reportEveryMs ?? SHADOW_REPORT_EVERY_MS,
    );
    if (transport.connected) this.enqueue("sync", () => this.sync());
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.reportTimer);
    clearTimeout(this.retryTimer);
  }

  /** Something the report shows changed (live mode ended, …): report it now, or on the next connection. */
  requestReport(): void {
    this.dirty = true;
    if (this.options.transport.connected) this.enqueue("report", () => this.report());
  }

  /** Waits for the work under way (tests). */
  idle(): Promise<void> {
    return this.chain;
  }

  stats() {
    return {
      ...this.counts,
      version: this.version,
      refused: this.refused,
      reportOwed: this.dirty,
    };
  }

  private enqueue(kind: "sync" | "report" | "delta", work: () => Promise<void>): void {
    if (this.stopped || this.queued[kind]) return;
    this.queued[kind] = true;
    this.chain = this.chain.then(async () => {
      this.queued[kind] = false;
      try {
        await work();
      } catch (e) {
        this.options.log(`shadow ${kind} failed: ${errorText(e)}`);
      }
    });
  }

  private topic(rest: string) {
    return shadowTopic({ thing: this.options.thing }, rest);
  }

  /** Subscribes to the answers (each SUBACK awaited), then gets, applies and reports. */
  private async sync(): Promise<void> {
    const { transport } = this.options;
    for (const rest of RESPONSES)
      await transport.subscribe(this.topic(rest), (topic, payload) =>
        this.onMessage(topic, payload),
      );
    this.dirty = true;
    await this.getAndApply();
    await this.report();
  }

  /** A fresh get: the whole desired state taken. A shadow that does not exist yet asks for nothing. */
  private async getAndApply(): Promise<void> {
    this.counts.gets++;
    let answer: Answer;
    try {
      answer = await this.request("get", {});
    } catch (e) {
      this.retryLater(`shadow get: ${errorText(e)}`);
      throw e;
    }
    if (!answer.accepted) {
      if (answer.body.code === 404) {
        this.nextDelta = undefined;
        this.version = undefined;
        this.desired = {};
        await this.applyDesired();
        return;
      }
      throw new ShadowRefused(Number(answer.body.code), String(answer.body.message));
    }
    // The whole desired state: fresher than any delta not handled yet.
    this.nextDelta = undefined;
    const state = isObject(answer.body.state) ? answer.body.state : {};
    if (typeof answer.body.version === "number") this.version = answer.body.version;
    this.desired = isObject(state.desired) ? state.desired : {};
    await this.applyDesired();
  }

  /** Applies the desired state as known; a change or new refusals owe a report. */
  private async applyDesired(): Promise<void> {
    const { settings, refused } = readDesiredSettings(this.desired);
    const outcome = await this.options.apply(settings);
    const all = [...refused, ...outcome.refused].slice(0, MAX_REFUSALS + 1);
    if (outcome.changed || JSON.stringify(all) !== JSON.stringify(this.refused)) this.dirty = true;
    for (const r of all)
      if (!this.refused.some((o) => o.setting === r.setting && o.reason === r.reason))
        this.options.log(`shadow: desired ${r.setting || "state"} refused: ${r.reason}`);
    this.refused = all;
  }

  private onMessage(topic: string, payload: Uint8Array) {
    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(payload));
    } catch {
      this.options.log(`shadow: an answer on ${topic} is not JSON, ignored`);
      return;
    }
    if (!isObject(body)) return;
    if (topic === this.topic("update/delta")) return this.onDelta(body);
    const token = typeof body.clientToken === "string" ? body.clientToken : undefined;
    const waiting = token === undefined ? undefined : this.pending.get(token);
    if (!waiting || token === undefined) return; // another client's request (the cloud's update)
    this.pending.delete(token);
    clearTimeout(waiting.timer);
    waiting.resolve({ accepted: topic.endsWith("/accepted"), body });
  }

  private onDelta(body: JsonObject) {
    const version = typeof body.version === "number" ? body.version : undefined;
    // Our own report's echo (the values we refused still differ): nothing new.
    if (typeof body.clientToken === "string" && this.issued.has(body.clientToken)) return;
    if (version !== undefined && this.version !== undefined && version <= this.version) return;
    if (!isObject(body.state)) return;
    this.counts.deltas++;
    this.nextDelta = mergeState(this.nextDelta, body.state);
    const versionSeen = version;
    this.enqueue("delta", async () => {
      const delta = this.nextDelta;
      this.nextDelta = undefined;
      if (delta === undefined) return;
      this.desired = mergeState(this.desired, delta);
      if (versionSeen !== undefined) this.version = Math.max(this.version ?? 0, versionSeen);
      await this.applyDesired();
      if (this.dirty) await this.report();
    });
  }

  /** The clientTokens of our recent requests (the delta of our own report carries one). */
  private readonly issued = new Set<string>();

  /** Reports the state now; owed again when it does not get through. */
  private async report(attempt = 0): Promise<void> {
    const { transport } = this.options;
    if (!this.dirty || this.stopped) return;
    if (!transport.connected) return; // the next connection reports the state as it is then
    const reported = this.fit(await this.options.reported(this.refused));
    this.counts.reports++;
    let answer: Answer;
    // Cleared now: a change while the answer is awaited owes another report.
    this.dirty = false;
    try {
      answer = await this.request("update", {
        state: { reported },
        ...(this.version !== undefined ? { version: this.version } : {}),
      });
    } catch (e) {
      this.dirty = true;
      this.retryLater(`shadow report: ${errorText(e)}`);
      return;
    }
    if (answer.accepted) {
      if (typeof answer.body.version === "number") this.version = answer.body.version;
      this.failures = 0;
      return;
    }
    this.dirty = true;
    const code = Number(answer.body.code);
    if (code === 409 && attempt < CONFLICT_RETRIES) {
      this.counts.conflicts++;
      this.options.log("shadow report: version conflict, getting the shadow again");
      await this.getAndApply();
      return this.report(attempt + 1);
    }
    if (code === 404 && attempt < CONFLICT_RETRIES) {
      // Deleted meanwhile: a report without a version creates it again.
      this.version = undefined;
      return this.report(attempt + 1);
    }
    this.retryLater(`shadow report refused: ${code} ${String(answer.body.message)}`);
  }

  /**
   * The report within 8 KB with the desired state as stored: the refusals
   * are cut to a count first; a report that still does not fit is not sent.
   */
  private fit(reported: ReportedDeviceState): ReportedDeviceState {
    const room = SHADOW_STATE_LIMIT_BYTES - bytes(this.desired);
    if (bytes(reported) <= room) return reported;
    const cut: ReportedDeviceState = {
      ...reported,
      refused:
        reported.refused.length === 0
          ? []
          : [
              {
                setting: "",
                reason: `${reported.refused.length} desired values refused (too many to list)`,
              },
            ],
    };
    if (bytes(cut) <= room) return cut;
    throw new Error(
      `the report (${bytes(cut)} bytes) does not fit beside the desired state (${bytes(this.desired)} bytes) in the shadow's ${SHADOW_STATE_LIMIT_BYTES} bytes`,
    );
  }

  /** Tries the whole sync again later: 5 s, doubling with each failure in a row, up to the report interval. */
  private retryLater(why: string) {
    const base = this.options.retryMs ?? SHADOW_RETRY_MS;
    const cap = Math.max(base, this.options.reportEveryMs ?? SHADOW_REPORT_EVERY_MS);
    const wait = Math.min(cap, base * 2 ** Math.min(this.failures, 16));
    this.failures++;
    this.options.log(`${why}; trying again in ${Math.round(wait / 1000)} s`);
    clearTimeout(this.retryTimer);
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      if (this.options.transport.connected) this.enqueue("sync", () => this.sync());
    }, wait);
  }

  /** Publishes a request with a fresh clientToken; its answer, or an error after the timeout. */
  private request(operation: "get" | "update", body: JsonObject): Promise<Answer> {
    const token = this.newToken();
    if (Buffer.byteLength(token) > MAX_CLIENT_TOKEN_BYTES)
      throw new Error("clientToken over 64 bytes");
    this.issued.add(token);
    if (this.issued.size > 32) this.issued.delete(this.issued.values().next().value as string);
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        this.counts.timeouts++;
        reject(new Error(`no answer to ${operation} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(token, { resolve, reject, timer });
      detached(
        `shadow ${operation}`,
        () =>
          this.options.transport
            .publish(this.topic(operation), JSON.stringify({ ...body, clientToken: token }))
            .catch((e: unknown) => {
              const p = this.pending.get(token);
              if (!p) return;
              this.pending.delete(token);
              clearTimeout(p.timer);
              p.reject(e instanceof Error ? e : new Error(String(e)));
            }),
        this.options.log,
      );
    });
  }
}
