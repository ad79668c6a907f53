import { Context } from "effect";

/**
 * MQTT as the device agent uses it: QoS 1 publishes that resolve at PUBACK,
 * nothing published before CONNACK, subscriptions renewed on every session.
 */
export interface MqttConnectionService {
  /** Between CONNACK and the end of that connection. */
  readonly connected: boolean;
  /** QoS 1; resolves at PUBACK. Rejects with `NotConnected` (also when cut off before PUBACK) or `PayloadTooLarge`. */
  publish(topic: string, payload: string | Uint8Array): Promise<void>;
  /**
   * Subscribes at QoS 1, now if connected and again on every new session;
   * rejects with `NotAuthorized` when the broker refuses the filter.
   */
  subscribe(filter: string, onMessage: (topic: string, payload: Uint8Array) => void): Promise<void>;
  onConnect(listener: () => void): void;
  onDisconnect(listener: () => void): void;
  /** Connections after the first (each one a reconnect). */
  reconnects(): number;
  /**
   * Drops the connection and connects with another certificate and key (a
   * certificate rotation); when that attempt does not reach CONNACK within
   * `timeoutMs`, goes back to the credentials before and reconnects with
   * them, and rejects with why the new ones failed. Absent on transports
   * without certificates.
   */
  useCredentials?(
    credentials: { readonly cert: string; readonly key: string },
    timeoutMs?: number,
  ): Promise<void>;
  /** A clean DISCONNECT; called by the layer that connected, when its scope closes. */
  close(): Promise<void>;
}

export class MqttConnection extends Context.Tag("@medusa/MqttConnection")<
  MqttConnection,
  MqttConnectionService
>() {}
