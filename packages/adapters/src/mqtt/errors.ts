import { Data } from "effect";

/** Not connected (or the connection closed before PUBACK): the message was not delivered. */
export class NotConnected extends Data.TaggedError("NotConnected")<{ readonly message: string }> {}

/** Refused before sending: AWS IoT Core drops messages over 128 KB. */
export class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge")<{
  readonly message: string;
}> {}

/** The broker refused the TLS handshake or the certificate (unknown CA, no certificate). */
export class TlsRejected extends Data.TaggedError("TlsRejected")<{ readonly message: string }> {}

/** CONNACK or SUBACK refused (e.g. the client id is not the certificate's thing name). */
export class NotAuthorized extends Data.TaggedError("NotAuthorized")<{
  readonly message: string;
}> {}

export class BrokerUnreachable extends Data.TaggedError("BrokerUnreachable")<{
  readonly message: string;
}> {}

/** A connection error none of the others describes (a protocol error, a broker that is unavailable). */
export class ConnectionFailed extends Data.TaggedError("ConnectionFailed")<{
  readonly message: string;
  readonly cause: unknown;
}> {}

/** Why a connection attempt failed or a connection ended. */
export type TransportError =
  | NotConnected
  | TlsRejected
  | NotAuthorized
  | BrokerUnreachable
  | ConnectionFailed;

/** Sorts an mqtt.js connection error into something a person can act on. */
export const classify = (error: Error & { code?: string | number }): TransportError => {
  const code = String(error.code ?? "");
  const text = `${code} ${error.message}`;
  if (/CERT|certificate|SSL|TLS|alert|self.signed|unable to verify|handshake/i.test(text)) {
    return new TlsRejected({
      message: `the broker refused the TLS connection: ${error.message} (check ca_cert, client_cert and client_key)`,
    });
  }
  if (
    /^(4|5|134|135)$/.test(code) ||
    /Not authorized|Bad username|Connection refused: Not/i.test(error.message)
  ) {
    return new NotAuthorized({
      message: `the broker refused the connection: ${error.message} (is the client id the certificate's thing name?)`,
    });
  }
  if (/ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN|timeout/i.test(text)) {
    return new BrokerUnreachable({ message: `cannot reach the broker: ${error.message}` });
  }
  return new ConnectionFailed({ message: error.message, cause: error });
};
