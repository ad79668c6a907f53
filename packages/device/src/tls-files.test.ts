import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DevCertFiles, ensureDevCerts } from "@medusa/adapters/broker";
import { Either } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "./config.js";
import { readTlsFiles } from "./tls-files.js";

let dir: string;
let certs: DevCertFiles;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "medusa-tls-files-"));
  certs = await ensureDevCerts(join(dir, "certs"), ["pi-1", "pi-2"]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FILE = "/etc/medusa/mqtt_publisher.toml";
const configWith = (paths: { ca?: string; cert?: string; key?: string } = {}) => {
  const client = certs.paths.clients["pi-1"] as { cert: string; key: string };
  return Either.getOrThrow(
    parseConfig(
      `[mqtt]
broker_host = "127.0.0.1"
client_id = "pi-1"
ca_cert = "${paths.ca ?? certs.paths.ca}"
client_cert = "${paths.cert ?? client.cert}"
client_key = "${paths.key ?? client.key}"
`,
      FILE,
      { env: {} },
    ),
  );
};
const file = (name: string, content: string) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const problems = (config: ReturnType<typeof configWith>) => {
  const r = readTlsFiles(config);
  if (Either.isRight(r)) throw new Error("accepted");
  return r.left.map((e) => e.message);
};

describe("the certificate and key files", () => {
  it("are read and checked: certificates, a key, and the key belongs to the certificate", () => {
    const tls = Either.getOrThrow(readTlsFiles(configWith()));
    expect(tls.ca).toContain("-----BEGIN CERTIFICATE-----");
    expect(tls.key).toContain("PRIVATE KEY");
  });

  it("a key that is readable but not PEM is named by its key and file", () => {
    const key = file(
      "garbled.key",
      "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    );
    expect(problems(configWith({ key }))).toEqual([
      expect.stringMatching(
        new RegExp(`^${FILE}: mqtt\\.client_key: ${key} is not a PEM private key: .+`),
      ),
    ]);
  });

  it("a certificate file without a certificate, or with a broken one, is named", () => {
    const client = certs.paths.clients["pi-1"] as { cert: string; key: string };
    const pem = readFileSync(certs.paths.ca, "utf8");
    const broken = file(
      "broken-ca.pem",
      `${pem}${pem.replace(/[A-Za-z]{8}\n/, "AAAAAAAA\n").slice(0, 200)}\n-----END CERTIFICATE-----\n`,
    );
    expect(problems(configWith({ cert: client.key, ca: broken }))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^${FILE}: mqtt\\.ca_cert: certificate 2 of 2 in ${broken} is not a valid certificate: `,
        ),
      ),
      `${FILE}: mqtt.client_cert: ${client.key} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`,
    ]);
  });

  it("a key that is not the certificate's, and a file that cannot be read, are named", () => {
    const other = certs.paths.clients["pi-2"] as { cert: string; key: string };
    const client = certs.paths.clients["pi-1"] as { cert: string; key: string };
    expect(problems(configWith({ key: other.key }))).toEqual([
      `${FILE}: mqtt.client_key: ${other.key} is not the private key of ${client.cert} (mqtt.client_cert)`,
    ]);
    expect(problems(configWith({ ca: join(dir, "missing.pem") }))).toEqual([
      expect.stringMatching(
        new RegExp(`^${FILE}: mqtt\\.ca_cert: cannot read ${dir}/missing\\.pem: ENOENT`),
      ),
    ]);
  });
});
