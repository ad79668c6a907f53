import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DevCertFiles, ensureDevCerts } from "@medusa/adapters/broker";
import { afterAll, afterEach, beforeAll, expect, it, vi } from "vitest";
import { main } from "./cli.js";

let dir: string;
let certs: DevCertFiles;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "medusa-cli-"));
  certs = await ensureDevCerts(join(dir, "certs"), ["pi-cli"]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/** A configuration file; returns its path. */
const configFile = (name: string, key?: string) => {
  const client = certs.paths.clients["pi-cli"] as { cert: string; key: string };
  const path = join(dir, `${name}.toml`);
  writeFileSync(
    path,
    `[mqtt]
broker_host = "127.0.0.1"
client_id = "pi-cli"
ca_cert = "${certs.paths.ca}"
client_cert = "${client.cert}"
client_key = "${key ?? client.key}"
[sensor]
kind = "synthetic"
[outbox]
path = "${join(dir, `outbox-${name}`)}"
`,
  );
  return path;
};

const run = async (argv: ReadonlyArray<string>) => {
  const errors: Array<string> = [];
  vi.spyOn(console, "log").mockImplementation(() => {});
  vi.spyOn(console, "error").mockImplementation((line: string) => errors.push(line));
  const code = await main(argv, {});
  return { code, errors };
};

it("--check exits 0 when the certificates and the key parse", async () => {
  expect(await run(["--config", configFile("good"), "--check"])).toEqual({ code: 0, errors: [] });
});

it("--check exits 2 for a readable key that is not PEM, naming the key and the file", async () => {
  const key = join(dir, "bad.key");
  writeFileSync(key, "not a key\n", { mode: 0o600 });
  const path = configFile("bad-key", key);
  const { code, errors } = await run(["--config", path, "--check"]);
  expect(code).toBe(2);
  expect(errors).toEqual([
    expect.stringMatching(
      new RegExp(`^medusa-device: ${path}: mqtt\\.client_key: ${key} is not a PEM private key: `),
    ),
  ]);
  // Starting refuses it the same way, before connecting.
  const start = await run(["--config", path]);
  expect(start.code).toBe(2);
  expect(start.errors[0]).toBe(errors[0]);
});

it("does not start with a garbled sequence file, naming it (exit 1)", async () => {
  const path = configFile("garbled");
  mkdirSync(join(dir, "outbox-garbled"));
  writeFileSync(join(dir, "outbox-garbled", "next-sequence"), "\0\0\0\0");
  const { code, errors } = await run(["--config", path]);
  expect(code).toBe(1);
  expect(errors).toEqual([
    expect.stringMatching(
      new RegExp(
        `^medusa-device: ${dir}/outbox-garbled/next-sequence: holds .*, not the next sequence number\\. Not starting`,
      ),
    ),
  ]);
});

it("--check reads the paths in the file against the file's folder, and names a file it cannot read", async () => {
  // The certificates are in certs/ beside the file; the command runs from elsewhere.
  const relative = join(dir, "relative.toml");
  writeFileSync(
    relative,
    `[mqtt]
broker_host = "127.0.0.1"
client_id = "pi-cli"
ca_cert = "certs/ca.pem"
client_cert = "certs/client-pi-cli.pem"
client_key = "certs/missing.key"
[outbox]
path = "outbox-relative"
`,
  );
  const { code, errors } = await run(["--config", relative, "--check"]);
  expect(code).toBe(2);
  expect(errors).toEqual([
    `medusa-device: ${relative}: mqtt.client_key: cannot read ${dir}/certs/missing.key: ENOENT: no such file or directory`,
  ]);
  expect(console.log).toHaveBeenCalledWith(
    expect.stringContaining(`ca certificate     ${dir}/certs/ca.pem`),
  );
  expect(console.log).toHaveBeenCalledWith(
    expect.stringContaining(`outbox             ${dir}/outbox-relative`),
  );
});
