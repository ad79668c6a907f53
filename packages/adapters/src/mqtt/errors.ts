import { Data, Predicate } from "effect";

/** Not connected (or the connection closed before PUBACK): the message was not delivered. */
export class NotConnected extends Data.TaggedError("NotConnected")<{ readonly message: string }> {}

/** Refused before sending: AWS IoT Core drops messages over 128 KB. */
export class PayloadTooLarge extends Data.TaggedError("PayloadTooLarge")<{
  readonly message: string;
}> {}

/**
 * The broker refused the device: a TLS alert about the device's certificate
 * (an unknown CA, a bad or revoked certificate, none at all), or the
 * connection closed before CONNACK (how a refused certificate shows with TLS
 * 1.3 when the broker sends no alert). `code` is Node's error code, if any.
 */
export class TlsRejected extends Data.TaggedError("TlsRejected")<{
  readonly message: string;
  readonly code?: string;
}> {}

/**
 * The device refused the broker's certificate: not signed by the CA in
 * `ca_cert`, expired (or the device's clock is wrong), or not for the host
 * name. `code` is OpenSSL's verification error as Node names it.
 */
export class BrokerNotTrusted extends Data.TaggedError("BrokerNotTrusted")<{
  readonly message: string;
  readonly code: string;
}> {}

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
  | BrokerNotTrusted
  | NotAuthorized
  | BrokerUnreachable
  | ConnectionFailed;

const TRANSPORT_ERROR_TAGS: ReadonlyArray<TransportError["_tag"]> = [
  "NotConnected",
  "TlsRejected",
  "BrokerNotTrusted",
  "NotAuthorized",
  "BrokerUnreachable",
  "ConnectionFailed",
];

/** Whether a rejection is one of the transport's errors (a promise's rejection is `unknown`). */
export const isTransportError = (e: unknown): e is TransportError =>
  TRANSPORT_ERROR_TAGS.some((tag) => Predicate.isTagged(e, tag));

/**
 * Node's codes for a certificate the device itself could not verify (the
 * verification errors of `tls`, and a host name the certificate is not for):
 * the device refused the broker, not the other way round.
 */
const LOCAL_VERIFICATION = new Set([
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
  "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "ERROR_IN_CERT_NOT_BEFORE_FIELD",
  "ERROR_IN_CERT_NOT_AFTER_FIELD",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "CERT_CHAIN_TOO_LONG",
  "CERT_REVOKED",
  "INVALID_CA",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_PURPOSE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

/** What to check when the device refused the broker's certificate, by the reason. */
const untrustedHint = (code: string) =>
  code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "HOSTNAME_MISMATCH"
    ? "check broker_host: the broker's certificate is for another name"
    : code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID"
      ? "check the device's clock, then the broker's certificate"
      : "check ca_cert: it must hold the CA that signed the broker's certificate (AmazonRootCA1.pem for AWS IoT)";

const firstLine = (text: string) => text.split("\n")[0] ?? "";

/** Sorts an mqtt.js connection error into something a person can act on, naming the side that refused. */
export const classify = (error: Error & { code?: string | number }): TransportError => {
  const code = String(error.code ?? "");
  if (LOCAL_VERIFICATION.has(code)) {
    return new BrokerNotTrusted({
      code,
      message: `the device refused the broker's certificate: ${firstLine(error.message)} (${code}); ${untrustedHint(code)}`,
    });
  }
  const alert = /^ERR_SSL_\w*?_ALERT_(\w+)$/.exec(code)?.[1];
  if (alert) {
    const what = alert.toLowerCase().replaceAll("_", " ");
    return new TlsRejected({
      code,
      message: `the broker refused the device's certificate: its TLS alert "${what}" (${code}); ${
        alert === "CERTIFICATE_REQUIRED"
          ? "the device sent none: check client_cert and client_key"
          : "check client_cert and client_key, and that the broker trusts the CA that issued them (for AWS IoT: the certificate is active and attached to the thing)"
      }`,
    });
  }
  if (/^ERR_SSL_|^ERR_TLS_|SSL routines|handshake/i.test(`${code} ${error.message}`)) {
    return new ConnectionFailed({
      message: `the TLS handshake failed: ${firstLine(error.message)}${code ? ` (${code})` : ""}; is broker_port the broker's MQTT over TLS port?`,
      cause: error,
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
  if (
    /ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT|ECONNRESET|EAI_AGAIN|timeout/i.test(
      `${code} ${error.message}`,
    )
  ) {
    return new BrokerUnreachable({ message: `cannot reach the broker: ${error.message}` });
  }
  return new ConnectionFailed({ message: error.message, cause: error });
};
