import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { Either } from "effect";
import { ConfigError, type DeviceConfig, firstLine, readProblem } from "./config.js";

/** The PEM texts mutual TLS needs, each checked to parse. */
export interface TlsFiles {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
}

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Reads the CA, the client certificate and its key, and checks that each
 * parses as PEM and that the key belongs to the certificate: OpenSSL's own
 * errors come much later (at the first connect, over and over) and name
 * neither the file nor the key. Every problem names the configuration key and
 * the file; all of them are returned, so `--check` can show each.
 */
export const readTlsFiles = (
  config: DeviceConfig,
  read: (path: string) => string = (path) => readFileSync(path, "utf8"),
): Either.Either<TlsFiles, ReadonlyArray<ConfigError>> => {
  const problems: Array<ConfigError> = [];
  const fail = (key: string, problem: string) => {
    problems.push(new ConfigError({ file: config.file, key, problem }));
    return undefined;
  };
  const readAs = (key: string, path: string): string | undefined => {
    try {
      return read(path);
    } catch (e) {
      return fail(key, `cannot read ${path}: ${readProblem(e)}`);
    }
  };
  /** Every certificate in a PEM file (a CA file may hold a bundle), or a problem. */
  const certificates = (key: string, path: string, text: string) => {
    const blocks = text.match(CERTIFICATE) ?? [];
    if (blocks.length === 0)
      return fail(key, `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
    const parsed: Array<X509Certificate> = [];
    for (const [i, block] of blocks.entries()) {
      try {
        parsed.push(new X509Certificate(block));
      } catch (e) {
        const which = blocks.length > 1 ? `certificate ${i + 1} of ${blocks.length} in ` : "";
        return fail(key, `${which}${path} is not a valid certificate: ${firstLine(e)}`);
      }
    }
    return parsed;
  };

  const { caPath, certPath, keyPath } = config.mqtt;
  const ca = readAs("mqtt.ca_cert", caPath);
  if (ca !== undefined) certificates("mqtt.ca_cert", caPath, ca);

  const cert = readAs("mqtt.client_cert", certPath);
  const clientCert =
    cert === undefined ? undefined : certificates("mqtt.client_cert", certPath, cert)?.[0];

  const key = readAs("mqtt.client_key", keyPath);
  let privateKey: KeyObject | undefined;
  if (key !== undefined) {
    try {
      privateKey = createPrivateKey(key);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      fail(
        "mqtt.client_key",
        code === "ERR_MISSING_PASSPHRASE"
          ? `${keyPath} is encrypted; the agent needs the key without a passphrase`
          : `${keyPath} is not a PEM private key: ${firstLine(e)}`,
      );
    }
  }
  if (clientCert && privateKey && !clientCert.checkPrivateKey(privateKey)) {
    fail("mqtt.client_key", `${keyPath} is not the private key of ${certPath} (mqtt.client_cert)`);
  }

  return problems.length > 0 || ca === undefined || cert === undefined || key === undefined
    ? Either.left(problems)
    : Either.right({ ca, cert, key });
};
