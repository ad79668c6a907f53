// Over 350 lines on purpose: one state machine (connect, backoff, resubscribe, in-flight publishes, TLS failures told apart) that reads best whole.
import { performance } from "node:perf_hooks";
import { topicMatches } from "@medusa/domain";
import { Effect, Layer, Predicate } from "effect";
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { MqttConnection, type MqttConnectionService } from "./connection.js";
import {
  BrokerUnreachable,
  ConnectionFailed,
  classify,
  NotAuthorized,
  NotConnected,
  PayloadTooLarge,
  TlsRejected,
  type TransportError,
} from "./errors.js";

/** Full-jitter exponential backoff: a random delay in [0, min(cap, base·2^attempt)). */
export const backoffDelay = (
  attempt: number,
  baseMs: number,
  capMs: number,
  random: () => number = Math.random,
): number => Math.floor(random() * Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30)));

export interface TransportOptions {
  readonly host: string;
  readonly port: number;
  readonly clientId: string;
  readonly ca: string | Buffer;
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly protocolVersion?: 4 | 5;
  readonly keepaliveS?: number;
  /** Keep the session (subscriptions, queued QoS 1 commands) across connections; the default. */
  readonly cleanSession?: boolean;
  readonly backoff?: { readonly baseMs: number; readonly capMs: number };
  /**
   * A connection that lasted this long resets the backoff (default 30 s). A
   * shorter one does not: a broker that accepts and then drops the client (a
   * duplicate client id, a publish its policy forbids) is retried ever more
   * slowly, not within a second forever.
   */
  readonly stableAfterMs?: number;
  /** Publishes waiting for PUBACK at most; more wait for a slot. */
  readonly maxInflight?: number;
  /** AWS IoT Core's limit is 128 KB. */
  readonly maxPayloadBytes?: number;
  readonly connectTimeoutMs?: number;
  readonly random?: () => number;
  readonly log?: (entry: Record<string, unknown>) => void;
  /** TLS server name, when it differs from `host` (SNI; AWS IoT needs it for custom domains). */
  readonly servername?: string;
  /**
   * Leave incoming QoS 1 messages unacknowledged, so that the broker keeps
   * them for the session's next connection (a one-off check must not take
   * the device's queued commands).
   */
  readonly holdIncoming?: boolean;
}

type Handler = (topic: string, payload: Uint8Array) => void;

/**
 * The device side of MQTT on mqtt.js: mutual TLS, QoS 1 only (AWS IoT Core
 * has no QoS 2), nothing published before CONNACK, at most `maxInflight`
 * publishes without PUBACK, payloads over the limit refused before sending.
 *
 * Reconnecting is driven here, with exponential backoff and full jitter, and
 * each attempt uses a fresh mqtt.js client: a publish cut off by a lost
 * connection rejects at once (its owner, the durable outbox, still has it and
 * sends it again) instead of being replayed later by mqtt.js's in-memory
 * store. The session itself is persistent, so the broker keeps the
 * subscriptions and queued commands.
 */
export class MqttTransport implements MqttConnectionService {
  private client: MqttClient | undefined;
  private readonly subscriptions = new Map<string, Handler>();
  private readonly connectListeners: Array<() => void> = [];
  private readonly disconnectListeners: Array<() => void> = [];
  /** Told of every connection attempt that ends before CONNACK, with why. */
  private readonly failureListeners: Array<(error: TransportError | undefined) => void> = [];
  private attempt = 0;
  private connections = 0;
  private timer: NodeJS.Timeout | undefined;
  private closing = false;
  /** A message was held (`holdIncoming`). */
  private holding = false;
  private inflight = 0;
  private readonly slots: Array<() => void> = [];
  private readonly unacknowledged = new Set<() => void>();
  /** Why the last connection attempt failed or the last connection ended. */
  lastError: TransportError | undefined;
  /** The certificate and key connected with (`useCredentials` changes them). */
  private credentials: { cert: string | Buffer; key: string | Buffer };
  /** A reconnect on purpose is under way: the closing connection schedules nothing. */
  private switching = false;

  constructor(private readonly options: TransportOptions) {
    this.credentials = { cert: options.cert, key: options.key };
    this.open();
  }

  private log(entry: Record<string, unknown>) {
    this.options.log?.(entry);
  }

  private open() {
    const o = this.options;
    const mqttOptions: IClientOptions = {
      host: o.host,
      port: o.port,
      protocol: "mqtts",
      clientId: o.clientId,
      ca: o.ca,
      cert: this.credentials.cert,
      key: this.credentials.key,
      rejectUnauthorized: true,
      protocolVersion: o.protocolVersion ?? 4,
      keepalive: o.keepaliveS ?? 30,
      clean: o.cleanSession ?? false,
      reconnectPeriod: 0,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      queueQoSZero: false,
      // Subscriptions are renewed here, on every CONNACK without a session.
      resubscribe: false,
      ...(o.servername ? { servername: o.servername } : {}),
    };
    const client = mqtt.connect(mqttOptions);
    // mqtt.js sends the PUBACK when this calls back; never calling back holds the message.
    if (o.holdIncoming)
      client.handleMessage = () => {
        this.holding = true;
      };
    this.client = client;
    let acknowledged = false;
    let connectedAt = 0;
    let failure: TransportError | undefined;
    client.on("connect", (connack) => {
      acknowledged = true;
      connectedAt = Date.now();
      this.connections++;
      this.lastError = undefined;
      this.log({ level: "info", msg: "connected", session_present: connack.sessionPresent });
      if (!connack.sessionPresent || this.connections === 1) {
        for (const filter of this.subscriptions.keys()) void this.subscribeOn(client, filter);
      }
      for (const listener of [...this.connectListeners]) listener();
    });
    client.on("message", (topic, payload) => {
      for (const [filter, handler] of this.subscriptions) {
        if (!topicMatches(filter, topic)) continue;
        try {
          handler(topic, payload);
        } catch (e) {
          // One bad message must not take the connection (or the process) down.
          this.log({ level: "error", msg: "message handler failed", topic, error: String(e) });
        }
      }
    });
    // mqtt.js may report one failure more than once (an error per layer): the close logs it, once.
    client.on("error", (error) => {
      failure = classify(error as Error & { code?: string | number });
      this.lastError = failure;
    });
    client.on("close", () => {
      if (this.client !== client) return;
      this.client = undefined;
      if (!acknowledged && !failure && !this.closing) {
        // TLS 1.3 reports a refused client certificate only as a closed connection.
        this.lastError = new TlsRejected({
          message:
            "the broker closed the connection before CONNACK: usually it does not accept the device's certificate (check client_cert and client_key, and that the broker trusts the CA that issued them)",
        });
      } else if (acknowledged && !failure && !this.closing) {
        this.lastError = new NotConnected({ message: "the broker closed the connection" });
      }
      client.end(true);
      if (!acknowledged)
        for (const listener of [...this.failureListeners]) listener(this.lastError);
      for (const cutOff of this.unacknowledged) cutOff();
      this.unacknowledged.clear();
      if (acknowledged) for (const listener of this.disconnectListeners) listener();
      if (acknowledged && Date.now() - connectedAt >= (this.options.stableAfterMs ?? 30_000))
        this.attempt = 0;
      this.scheduleReconnect(acknowledged ? "connection lost" : "connection attempt failed");
    });
  }

  /** One log line per failed attempt or lost connection: why, and when the next attempt comes. */
  private scheduleReconnect(what: string) {
    if (this.closing || this.switching || this.timer) return;
    const { baseMs, capMs } = this.options.backoff ?? { baseMs: 1_000, capMs: 60_000 };
    const delay = backoffDelay(this.attempt++, baseMs, capMs, this.options.random);
    this.log({
      level: "warn",
      msg: `${what}, reconnecting`,
      kind: this.lastError?._tag,
      error: this.lastError?.message,
      attempt: this.attempt,
      delay_ms: delay,
    });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closing) this.open();
    }, delay);
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  /** Connections after the first (each one a reconnect). */
  reconnects(): number {
    return Math.max(0, this.connections - 1);
  }

  onConnect(listener: () => void): void {
    this.connectListeners.push(listener);
  }

  onDisconnect(listener: () => void): void {
    this.disconnectListeners.push(listener);
  }

  /**
   * Resolves once connected; rejects with the last connection error after
   * `timeoutMs`, or earlier (the transport itself keeps trying either way):
   * with `failFast`, as soon as the broker or the device refuses the TLS
   * connection, or the broker refuses the CONNACK; with `firstAttempt`, as
   * soon as an attempt fails, whatever the reason.
   */
  waitConnected(
    timeoutMs = 10_000,
    { failFast = false, firstAttempt = false } = {},
  ): Promise<void> {
    if (this.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        const i = this.connectListeners.indexOf(onConnect);
        if (i >= 0) this.connectListeners.splice(i, 1);
        const j = this.failureListeners.indexOf(onFailure);
        if (j >= 0) this.failureListeners.splice(j, 1);
      };
      const onConnect = () => {
        done();
        resolve();
      };
      const onFailure = (error: TransportError | undefined) => {
        const refused =
          Predicate.isTagged(error, "TlsRejected") ||
          Predicate.isTagged(error, "BrokerNotTrusted") ||
          Predicate.isTagged(error, "NotAuthorized");
        if (!(firstAttempt || (failFast && refused))) return;
        done();
        reject(error ?? new ConnectionFailed({ message: "the attempt failed", cause: undefined }));
      };
      const timer = setTimeout(() => {
        done();
        reject(this.lastError ?? new BrokerUnreachable({ message: "not connected in time" }));
      }, timeoutMs);
      this.connectListeners.push(onConnect);
      this.failureListeners.push(onFailure);
    });
  }

  /**
   * Connects with another certificate and key: the current connection is
   * closed first (AWS IoT drops the older of two connections with one client
   * id), then the new credentials get one attempt of `timeoutMs`; if it does
   * not reach CONNACK, the previous credentials are put back and the
   * transport reconnects with them, and this rejects with the new ones'
   * failure. The session (client id, subscriptions) is the same either way.
   */
  async useCredentials(
    credentials: { readonly cert: string; readonly key: string },
    timeoutMs = 15_000,
  ): Promise<void> {
    const previous = this.credentials;
    this.credentials = { ...credentials };
    await this.reconnectNow();
    try {
      await this.waitConnected(timeoutMs, { firstAttempt: true });
    } catch (e) {
      this.log({
        level: "warn",
        msg: "the new certificate did not connect; back to the previous one",
        error: e instanceof Error ? e.message : String(e),
      });
      this.credentials = previous;
      await this.reconnectNow();
      throw e;
    }
  }

  /** Closes the connection (or the wait for the next attempt) and opens one at once. */
  private async reconnectNow(): Promise<void> {
    this.switching = true;
    try {
      clearTimeout(this.timer);
      this.timer = undefined;
      const client = this.client;
      if (client) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => {
            client.once("close", () => resolve());
            client.end(true);
          }),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, 3_000);
          }),
        ]);
        clearTimeout(timer);
        if (this.client === client) this.client = undefined;
      }
    } finally {
      this.switching = false;
    }
    if (this.closing) return;
    this.attempt = 0;
    this.open();
  }

  /** QoS 1; resolves at PUBACK. Rejects when not connected, cut off, or over the size limit. */
  async publish(topic: string, payload: string | Uint8Array): Promise<void> {
    const size = typeof payload === "string" ? Buffer.byteLength(payload) : payload.byteLength;
    const max = this.options.maxPayloadBytes ?? 128 * 1024;
    if (size > max)
      throw new PayloadTooLarge({ message: `${size} bytes is over the ${max}-byte limit` });
    if (!this.connected) throw new NotConnected({ message: "not connected" });
    await this.slot();
    try {
      const client = this.client;
      if (!client?.connected) throw new NotConnected({ message: "not connected" });
      await new Promise<void>((resolve, reject) => {
        // With a persistent session mqtt.js keeps an unacknowledged publish for a
        // later resend rather than failing it, so a lost connection fails it here.
        const cutOff = () =>
          reject(new NotConnected({ message: "the connection closed before PUBACK" }));
        this.unacknowledged.add(cutOff);
        client.publish(
          topic,
          typeof payload === "string" ? payload : Buffer.from(payload),
          { qos: 1 },
          (error) => {
            this.unacknowledged.delete(cutOff);
            if (error) reject(new NotConnected({ message: `not acknowledged: ${error.message}` }));
            else resolve();
          },
        );
      });
    } finally {
      this.release();
    }
  }

  private slot(): Promise<void> {
    if (this.inflight < (this.options.maxInflight ?? 100)) {
      this.inflight++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.slots.push(() => {
        this.inflight++;
        resolve();
      }),
    );
  }

  private release() {
    this.inflight--;
    this.slots.shift()?.();
  }

  /**
   * Subscribes at QoS 1, now if connected and again on every new session.
   * Rejects with `NotAuthorized` when the broker refuses the filter; a
   * connection lost meanwhile is not an error (the next session renews it).
   */
  async subscribe(filter: string, handler: Handler): Promise<void> {
    this.subscriptions.set(filter, handler);
    const client = this.client;
    if (client?.connected) await this.subscribeOn(client, filter, true);
  }

  private async subscribeOn(client: MqttClient, filter: string, strict = false): Promise<void> {
    const refused = () => {
      this.subscriptions.delete(filter);
      this.log({ level: "warn", msg: "subscription refused", filter });
      const error = new NotAuthorized({
        message: `the broker refused the subscription to ${filter}`,
      });
      if (strict) throw error;
    };
    try {
      const granted = await client.subscribeAsync(filter, { qos: 1 });
      if (granted.some((g) => g.qos >= 0x80)) refused();
    } catch (e) {
      if (Predicate.isTagged(e, "NotAuthorized")) throw e;
      // mqtt.js rejects a SUBACK failure code with the packet; a lost connection without one.
      if (typeof e === "object" && e !== null && "packet" in e && e.packet) return refused();
      this.log({ level: "info", msg: "subscription deferred to the next connection", filter });
    }
  }

  /** A clean DISCONNECT; pending publishes are rejected. */
  async close(): Promise<void> {
    this.closing = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    // A held message stalls mqtt.js's packet handling, and with it a clean DISCONNECT.
    if (client?.connected && !this.holding) {
      // DISCONNECT waits for outstanding PUBACKs; a broker that never sends them does not hold us.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        client.endAsync(false),
        new Promise((r) => {
          timer = setTimeout(r, 3_000);
        }),
      ]);
      clearTimeout(timer);
      client.stream?.destroy();
    } else if (client) await client.endAsync(true);
    for (const cutOff of this.unacknowledged) cutOff();
    this.unacknowledged.clear();
  }
}

export const connectTransport = (options: TransportOptions): MqttTransport =>
  new MqttTransport(options);

/**
 * One connection attempt, for a check (`medusa-device --check --connect`):
 * resolves with the milliseconds to CONNACK, or rejects with why the attempt
 * failed (a `TransportError`), within `timeoutMs`; disconnects cleanly either
 * way. Messages queued for the client's session stay with the broker.
 */
export const connectOnce = async (
  options: TransportOptions,
  timeoutMs = 10_000,
): Promise<number> => {
  const started = performance.now();
  const transport = new MqttTransport({
    ...options,
    connectTimeoutMs: Math.min(options.connectTimeoutMs ?? timeoutMs, timeoutMs),
    holdIncoming: true,
  });
  try {
    await transport.waitConnected(timeoutMs, { firstAttempt: true });
    return Math.round(performance.now() - started);
  } finally {
    await transport.close();
  }
};

/** The transport as the device's MQTT connection: it connects when built and disconnects cleanly when the layer's scope closes. */
export const mqttConnectionLayer = (options: TransportOptions): Layer.Layer<MqttConnection> =>
  Layer.scoped(
    MqttConnection,
    Effect.acquireRelease(
      Effect.sync(() => connectTransport(options)),
      (transport) => Effect.promise(() => transport.close()),
    ),
  );
