import {
  clientTokenOfPayload,
  deleteShadow,
  type ErrorDocument,
  errorDocument,
  getShadow,
  MAX_IN_FLIGHT_REQUESTS,
  SHADOW_ERRORS,
  type ShadowRecord,
  updateShadow,
} from "../shadow/document.js";
import type { JsonObject } from "../shadow/json.js";
import {
  parseShadowRequest,
  type ShadowAddress,
  type ShadowOperation,
  shadowTopic,
} from "../shadow/topics.js";
import { memoryShadowPersistence, type ShadowPersistence } from "./shadow-store.js";

/** An answer of the data plane (`UpdateThingShadow`, `GetThingShadow`, `DeleteThingShadow`). */
export type DataPlaneAnswer =
  | { readonly status: 200; readonly body: JsonObject }
  | { readonly status: number; readonly body: ErrorDocument };

export interface ShadowServiceOptions {
  /** Where shadows are kept (in memory when absent). */
  readonly persistence?: ShadowPersistence;
  /** Publishes an answer on a reserved topic to its subscribers. */
  readonly publish: (topic: string, payload: string) => void;
  readonly now?: () => number;
  readonly log?: (entry: Record<string, unknown>) => void;
}

export interface ShadowServiceStats {
  readonly requests: number;
  readonly accepted: number;
  readonly rejected: number;
  /** Requests answered 429: over `MAX_IN_FLIGHT_REQUESTS` on one connection. */
  readonly throttled: number;
}

/**
 * The Device Shadow service, as AWS IoT Core runs it, over any broker: MQTT
 * requests on the reserved topics (`handleRequest`, with the publishing
 * connection) are answered on their `accepted`/`rejected` topics, an accepted
 * update also on `update/delta` (when desired and reported differ) and
 * `update/documents`; the data plane's calls (`update`, `get`, `delete`)
 * answer their caller, and an accepted update or delete is published on the
 * same topics (a rejected one is not: "no MQTT error messages are emitted").
 *
 * Requests on one shadow take effect in the order they arrive, and each is
 * answered once the shadow is saved, in the same order. A connection with
 * more than ten requests not answered yet gets 429 for the next.
 */
export class ShadowService {
  private readonly shadows = new Map<string, ShadowRecord>();
  private readonly persistence: ShadowPersistence;
  private readonly now: () => number;
  private readonly log: (entry: Record<string, unknown>) => void;
  /** Per shadow, the answer last queued: answers go out in order. */
  private readonly tails = new Map<string, Promise<void>>();
  private readonly inFlight = new Map<object, number>();
  private readonly counts = { requests: 0, accepted: 0, rejected: 0, throttled: 0 };

  constructor(private readonly options: ShadowServiceOptions) {
    this.persistence = options.persistence ?? memoryShadowPersistence();
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => {});
    for (const [address, record] of this.persistence.load()) this.shadows.set(key(address), record);
  }

  /** The stored shadow (tests, tools). */
  peek(address: ShadowAddress): ShadowRecord | undefined {
    return this.shadows.get(key(address));
  }

  stats(): ShadowServiceStats {
    return { ...this.counts };
  }

  /**
   * An MQTT publish: when `topic` is a shadow request, it is handled and
   * answered on the shadow's topics, and this returns true.
   * `connection` identifies the publishing connection (its in-flight count).
   */
  handleRequest(topic: string, payload: Uint8Array, connection: object): boolean {
    const request = parseShadowRequest(topic);
    if (request === undefined) return false;
    this.counts.requests++;
    const { operation, ...address } = request;
    const busy = this.inFlight.get(connection) ?? 0;
    if (busy >= MAX_IN_FLIGHT_REQUESTS) {
      this.counts.throttled++;
      this.counts.rejected++;
      this.answer(
        address,
        `${operation}/rejected`,
        errorDocument(SHADOW_ERRORS.tooManyRequests, this.now(), clientTokenOfPayload(payload)),
      );
      return true;
    }
    this.inFlight.set(connection, busy + 1);
    const done = () => {
      const left = (this.inFlight.get(connection) ?? 1) - 1;
      if (left <= 0) this.inFlight.delete(connection);
      else this.inFlight.set(connection, left);
    };
    void this.apply(address, operation, payload, true).then(done, done);
    return true;
  }

  /** `UpdateThingShadow`. */
  update(address: ShadowAddress, payload: Uint8Array | string): Promise<DataPlaneAnswer> {
    return this.apply(address, "update", payload, false);
  }

  /** `GetThingShadow`. */
  get(address: ShadowAddress): Promise<DataPlaneAnswer> {
    return this.apply(address, "get", "", false);
  }

  /** `DeleteThingShadow`. */
  delete(address: ShadowAddress): Promise<DataPlaneAnswer> {
    return this.apply(address, "delete", "", false);
  }

  /** Waits for every answer under way, then closes the store. */
  async close(): Promise<void> {
    await Promise.all(this.tails.values());
    await this.persistence.close();
  }

  /**
   * Applies a request to the shadow now (so the next one sees it), then
   * saves and answers after the answers queued before it.
   */
  private apply(
    address: ShadowAddress,
    operation: ShadowOperation,
    payload: Uint8Array | string,
    overMqtt: boolean,
  ): Promise<DataPlaneAnswer> {
    const k = key(address);
    const before = this.shadows.get(k);
    const now = this.now();
    let saved: ShadowRecord | undefined;
    const publishes: Array<readonly [string, unknown]> = [];
    let answer: DataPlaneAnswer;
    switch (operation) {
      case "update": {
        const out = updateShadow(before, payload, now);
        if (out.ok) {
          saved = out.record;
          answer = { status: 200, body: out.accepted };
          publishes.push(["update/accepted", out.accepted]);
          if (out.delta) publishes.push(["update/delta", out.delta]);
          publishes.push(["update/documents", out.documents]);
        } else {
          answer = { status: out.error.code, body: out.error };
          if (overMqtt) publishes.push(["update/rejected", out.error]);
        }
        break;
      }
      case "get": {
        const out = getShadow(before, payload, now, address.thing, address.shadowName);
        answer = out.ok
          ? { status: 200, body: out.document }
          : { status: out.error.code, body: out.error };
        if (overMqtt) publishes.push([out.ok ? "get/accepted" : "get/rejected", answer.body]);
        break;
      }
      case "delete": {
        const out = deleteShadow(before, payload, now, address.thing, address.shadowName);
        if (out.ok) {
          saved = out.record;
          answer = { status: 200, body: out.accepted };
          publishes.push(["delete/accepted", out.accepted]);
        } else {
          answer = { status: out.error.code, body: out.error };
          if (overMqtt) publishes.push(["delete/rejected", out.error]);
        }
        break;
      }
    }
    if (answer.status === 200) this.counts.accepted++;
    else this.counts.rejected++;
    if (saved) this.shadows.set(k, saved);
    const write = saved ? this.persistence.save(address, saved) : Promise.resolve();
    const previous = this.tails.get(k) ?? Promise.resolve();
    const result = previous.then(() =>
      write.then(
        () => {
          for (const [rest, body] of publishes) this.answer(address, rest, body);
          return answer;
        },
        (e: unknown) => {
          // The change stays in memory and is written with the shadow's next save.
          this.log({
            level: "error",
            msg: "a shadow could not be saved",
            error: String(e),
            ...address,
          });
          const failed = errorDocument(
            SHADOW_ERRORS.internal,
            this.now(),
            clientTokenOfPayload(payload),
          );
          if (overMqtt) this.answer(address, `${operation}/rejected`, failed);
          return { status: 500, body: failed } as DataPlaneAnswer;
        },
      ),
    );
    const tail = result.then(() => {});
    this.tails.set(k, tail);
    void tail.then(() => {
      if (this.tails.get(k) === tail) this.tails.delete(k);
    });
    return result;
  }

  private answer(address: ShadowAddress, rest: string, body: unknown) {
    try {
      this.options.publish(shadowTopic(address, rest), JSON.stringify(body));
    } catch (e) {
      this.log({ level: "error", msg: "a shadow answer could not be published", error: String(e) });
    }
  }
}

const key = (a: ShadowAddress) =>
  a.shadowName === undefined ? a.thing : `${a.thing}/${a.shadowName}`;
