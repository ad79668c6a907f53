import { createHash, randomUUID } from "node:crypto";
import type { TLSSocket } from "node:tls";
import {
  type DeviceConnected,
  type DeviceDisconnected,
  hasLifecycleEvents,
  presenceTopic,
} from "@medusa/domain";
import type { Aedes, Client } from "aedes";

/**
 * What we read of aedes beyond its declared types: the clients it has
 * registered, by client id (`Aedes#clients`, set in its constructor and kept
 * as connections come and go).
 */
interface RegisteredClients {
  readonly clients: Readonly<Record<string, object | undefined>>;
}

const hasRegisteredClients = (broker: object): broker is RegisteredClients =>
  "clients" in broker && typeof broker.clients === "object" && broker.clients !== null;

/** The broker's clients by id, or a clear failure where this aedes does not keep them. */
const registeredClients = (aedes: Aedes): RegisteredClients => {
  if (!hasRegisteredClients(aedes))
    throw new TypeError("aedes keeps no `clients` by id: DUPLICATE_CLIENTID cannot be told apart");
  return aedes;
};

/** What the broker knows about one connection, for its disconnect event. */
interface Session {
  readonly client: Client;
  readonly sessionIdentifier: string;
  readonly principalIdentifier: string;
  readonly versionNumber: number;
  keepaliveTimedOut: boolean;
  clientError: boolean;
}

export interface LifecycleEvents {
  /** The broker is going away: the connections it drops end with SERVER_INITIATED_DISCONNECT. */
  readonly closing: () => void;
}

/**
 * AWS IoT Core's connect and disconnect lifecycle events, on the broker
 * (https://docs.aws.amazon.com/iot/latest/developerguide/life-cycle-events.html):
 * when a client has connected (after its CONNACK) a `connected` event on
 * `$aws/events/presence/connected/{clientId}`, and when its connection ends a
 * `disconnected` event on `.../disconnected/{clientId}`, with AWS's fields:
 * `clientId`, `timestamp` (ms), `eventType`, `sessionIdentifier` (one per
 * connection), `principalIdentifier` (the certificate's id: the SHA-256 of
 * its DER, as AWS names certificates), `versionNumber` (shared by a
 * connection's two events, increasing per client id), `ipAddress` (connect),
 * `clientInitiatedDisconnect` and `disconnectReason` (disconnect). Client ids
 * containing `#` or `+` get none, as on AWS. Published at QoS 1, not retained.
 *
 * Disconnect reasons: an MQTT DISCONNECT is CLIENT_INITIATED_DISCONNECT; a
 * second connection with the same client id ends the first with
 * DUPLICATE_CLIENTID; no packet for 1.5 keep-alives is MQTT_KEEP_ALIVE_TIMEOUT;
 * a publish or subscription the policy forbids is AUTH_ERROR; another protocol
 * error is CLIENT_ERROR; the broker shutting down is SERVER_INITIATED_DISCONNECT;
 * a connection that just ends is CONNECTION_LOST.
 *
 * AWS's version numbers are counters that may reset after an hour offline;
 * these are the connect time in milliseconds, or the previous one plus one,
 * so they keep increasing across restarts of the local stack too (AWS promises
 * only that they increase).
 */
export const publishLifecycleEvents = (
  aedes: Aedes,
  options: {
    /** The broker's refusals so far: a connection closed right after one of its own ends with AUTH_ERROR. */
    readonly refusals: ReadonlyArray<Record<string, unknown>>;
    readonly log: (entry: Record<string, unknown>) => void;
    readonly now?: () => number;
  },
): LifecycleEvents => {
  const now = options.now ?? Date.now;
  const registered = registeredClients(aedes);
  const sessions = new WeakMap<Client, Session>();
  const lastVersion = new Map<string, number>();
  let closing = false;

  const publish = (topic: string, event: DeviceConnected | DeviceDisconnected) =>
    aedes.publish(
      {
        cmd: "publish",
        topic,
        payload: Buffer.from(JSON.stringify(event)),
        qos: 1,
        retain: false,
        dup: false,
      },
      (error) => {
        if (error)
          options.log({
            level: "warn",
            msg: "lifecycle event not published",
            topic,
            error: error.message,
          });
      },
    );

  aedes.on("clientReady", (client) => {
    if (!hasLifecycleEvents(client.id)) return;
    const socket = client.conn as Partial<TLSSocket> & { remoteAddress?: string };
    const raw =
      typeof socket.getPeerCertificate === "function"
        ? socket.getPeerCertificate()?.raw
        : undefined;
    const versionNumber = Math.max((lastVersion.get(client.id) ?? -1) + 1, now());
    lastVersion.set(client.id, versionNumber);
    const session: Session = {
      client,
      sessionIdentifier: randomUUID().replaceAll("-", ""),
      // A plain-listener client (a local tool) has no certificate.
      principalIdentifier: raw ? createHash("sha256").update(raw).digest("hex") : "local",
      versionNumber,
      keepaliveTimedOut: false,
      clientError: false,
    };
    sessions.set(client, session);
    const ip = socket.remoteAddress?.replace(/^::ffff:/, "");
    publish(presenceTopic("connected", client.id), {
      clientId: client.id as DeviceConnected["clientId"],
      timestamp: now() as DeviceConnected["timestamp"],
      eventType: "connected",
      sessionIdentifier: session.sessionIdentifier,
      principalIdentifier: session.principalIdentifier,
      ...(ip ? { ipAddress: ip } : {}),
      versionNumber,
    });
  });
  aedes.on("keepaliveTimeout", (client) => {
    const s = sessions.get(client);
    if (s) s.keepaliveTimedOut = true;
  });
  aedes.on("clientError", (client) => {
    const s = sessions.get(client);
    if (s) s.clientError = true;
  });
  aedes.on("clientDisconnect", (client) => {
    const session = sessions.get(client);
    if (!session) return;
    sessions.delete(client);
    const at = now();
    const refusedAt = options.refusals.length;
    const lastRefusal = options.refusals[refusedAt - 1];
    const byClient = (client as { _disconnected?: boolean })._disconnected === true;
    // A second connection with this id is registered right after this one is closed for it.
    setImmediate(() => {
      const current = registered.clients[client.id];
      const replaced = current !== undefined && current !== client;
      const reason = byClient
        ? "CLIENT_INITIATED_DISCONNECT"
        : replaced
          ? "DUPLICATE_CLIENTID"
          : session.keepaliveTimedOut
            ? "MQTT_KEEP_ALIVE_TIMEOUT"
            : session.clientError && lastRefusal?.client_id === client.id
              ? "AUTH_ERROR"
              : session.clientError
                ? "CLIENT_ERROR"
                : closing
                  ? "SERVER_INITIATED_DISCONNECT"
                  : "CONNECTION_LOST";
      publish(presenceTopic("disconnected", client.id), {
        clientId: client.id as DeviceDisconnected["clientId"],
        timestamp: at as DeviceDisconnected["timestamp"],
        eventType: "disconnected",
        sessionIdentifier: session.sessionIdentifier,
        principalIdentifier: session.principalIdentifier,
        clientInitiatedDisconnect: byClient,
        disconnectReason: reason,
        versionNumber: session.versionNumber,
      });
    });
  });
  return {
    closing: () => {
      closing = true;
    },
  };
};
