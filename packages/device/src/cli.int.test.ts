import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { createDevCa, issueDeviceCert, type LocalBroker } from "@medusa/adapters/broker";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { CHECK_CONNECT_TIMEOUT_MS, main } from "./cli.js";
import { startBroker, testFolder, writeConfig } from "./testing/testbed.js";

// `--check --connect` against the local broker: which side refused what, and the exit code.
let folder: Awaited<ReturnType<typeof testFolder>>;
let broker: LocalBroker;
/** A second, unrelated CA, and a certificate for pi-check from it. */
let strangerCa: string;
let strangerPair: { cert: string; key: string };
beforeAll(async () => {
  folder = await testFolder(["pi-check"]);
  broker = await startBroker(folder.certs);
  const other = await createDevCa("an unrelated CA");
  const pair = await issueDeviceCert(other, "pi-check");
  strangerCa = join(folder.dir, "unrelated-ca.pem");
  writeFileSync(strangerCa, other.cert);
  strangerPair = { cert: join(folder.dir, "stranger.pem"), key: join(folder.dir, "stranger.key") };
  writeFileSync(strangerPair.cert, pair.cert);
  writeFileSync(strangerPair.key, pair.key, { mode: 0o600 });
});
afterAll(async () => {
  await broker.close();
  folder.remove();
});
afterEach(() => vi.restoreAllMocks());

/** The agent's configuration for pi-check, with some lines replaced. */
const config = (port: number, replace: Record<string, string> = {}) => {
  const { path } = writeConfig(folder.dir, folder.certs, "pi-check", port);
  let text = readFileSync(path, "utf8");
  for (const [from, to] of Object.entries(replace)) text = text.replace(from, to);
  writeFileSync(path, text);
  return path;
};
const client = () => folder.certs.paths.clients["pi-check"] as { cert: string; key: string };

const check = async (path: string) => {
  const out: Array<string> = [];
  const errors: Array<string> = [];
  vi.spyOn(console, "log").mockImplementation((line: string) => out.push(line));
  vi.spyOn(console, "error").mockImplementation((line: string) => errors.push(line));
  const started = Date.now();
  const code = await main(["--config", path, "--check", "--connect"], {});
  return { code, out: out.join("\n"), errors, ms: Date.now() - started };
};

describe("medusa-device --check --connect", () => {
  it("connects once and exits 0 when both sides accept", async () => {
    const { code, out, errors } = await check(config(broker.port));
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    expect(out).toMatch(
      new RegExp(`connection +mqtts://127\\.0\\.0\\.1:${broker.port} as pi-check: connected`),
    );
  });

  it("a wrong CA on the device: the device refused the broker's certificate (exit 1)", async () => {
    const path = config(broker.port, { [folder.certs.paths.ca]: strangerCa });
    const { code, errors } = await check(path);
    expect(code).toBe(1);
    expect(errors).toEqual([
      `medusa-device: ${path}: connecting to mqtts://127.0.0.1:${broker.port} as pi-check failed: the device refused the broker's certificate: self-signed certificate in certificate chain (SELF_SIGNED_CERT_IN_CHAIN); check ca_cert: it must hold the CA that signed the broker's certificate (AmazonRootCA1.pem for AWS IoT) [mqtt.ca_cert ${strangerCa}, mqtt.broker_host 127.0.0.1]`,
    ]);
  });

  it("a device certificate from another CA: the broker refused the device's certificate (exit 1)", async () => {
    const path = config(broker.port, {
      [client().cert]: strangerPair.cert,
      [client().key]: strangerPair.key,
    });
    const { code, errors } = await check(path);
    expect(code).toBe(1);
    expect(errors).toEqual([
      expect.stringContaining(
        `failed: the broker closed the connection before CONNACK: usually it does not accept the device's certificate`,
      ),
    ]);
    expect(errors[0]).toContain(`[mqtt.client_cert ${strangerPair.cert}, mqtt.client_key`);
  });

  it("no broker on the port: cannot reach it (exit 1), without retrying", async () => {
    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const { code, errors, ms } = await check(config(port));
    expect(code).toBe(1);
    expect(errors[0]).toMatch(/failed: cannot reach the broker: connect ECONNREFUSED/);
    expect(ms).toBeLessThan(2_000);
  });

  it("a broker that never answers: gives up within the bound (exit 1)", async () => {
    const silent: Server = createServer(() => {}); // accepts, never speaks TLS
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    try {
      const { code, errors, ms } = await check(config((silent.address() as { port: number }).port));
      expect(code).toBe(1);
      expect(errors[0]).toMatch(/failed: cannot reach the broker: connack timeout/);
      expect(ms).toBeLessThan(CHECK_CONNECT_TIMEOUT_MS + 3_000);
    } finally {
      silent.close();
    }
  }, 20_000);
});
