/**
 * @medusa/adapters/mqtt: the device's MQTT connection port and its
 * implementation on mqtt.js, with the errors it rejects with.
 */
export { MqttConnection, type MqttConnectionService } from "./connection.js";
export {
  BrokerNotTrusted,
  BrokerUnreachable,
  ConnectionFailed,
  isTransportError,
  NotAuthorized,
  NotConnected,
  PayloadTooLarge,
  TlsRejected,
  type TransportError,
} from "./errors.js";
export {
  connectOnce,
  connectTransport,
  MqttTransport,
  mqttConnectionLayer,
  type TransportOptions,
} from "./transport.js";
