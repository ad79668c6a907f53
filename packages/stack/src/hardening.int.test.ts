import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, afterEach, beforeEach, expect, it } from "vitest";
import { type Stack, startStack } from "./stack.js";

const root = mkdtempSync(join(tmpdir(), "medusa-hardening-"));
const dir = join(root, ".medusa");
let stack: Stack | undefined;
const log: Array<Record<string, unknown>> = [];
const unhandled: Array<unknown> = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeEach(() => {
  process.on("unhandledRejection", onUnhandled);
  process.on("uncaughtException", onUnhandled);
});
afterEach(() => {
  process.off("unhandledRejection", onUnhandled);
  process.off("uncaughtException", onUnhandled);
});
afterAll(async () => {
  await stack?.stop();
  rmSync(root, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const eventually = async (check: () => boolean, what: string, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
};
const mode = (path: string) => statSync(path).mode & 0o777;
const walk = (path: string): Array<string> =>
  readdirSync(path, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? [join(path, e.name), ...walk(join(path, e.name))] : [join(path, e.name)],
  );

it("keeps its data folder owner-only, and tightens one that was not", async () => {
  // A folder from an earlier version: readable by everyone, a secret among it.
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "dev-jwt-secret"), "an-old-development-secret\n");
  chmodSync(join(dir, "dev-jwt-secret"), 0o644);

  stack = await startStack({
    dir,
    devices: 1,
    apiPort: 0,
    mqttPort: 0,
    dynamoPort: 0,
    publishIntervalMs: 500,
    log: (entry) => log.push(entry),
  });
  expect(log).toContainEqual(
    expect.objectContaining({
      component: "stack",
      level: "warn",
      msg: expect.stringContaining("made owner-only"),
      dir,
    }),
  );
  expect(mode(dir)).toBe(0o700);
  // What the stack writes (certificates and keys, device configurations, DynamoDB Local's
  // files, the secret): folders 0700, files 0600. The devices' outboxes are their agents'
  // files, in a folder only the owner can enter.
  const own = walk(dir).filter((p) => !relative(dir, p).startsWith("outbox/"));
  expect(own.map((p) => relative(dir, p))).toEqual(
    expect.arrayContaining(["dev-jwt-secret", "certs/ca.key", "devices/medusa-sim-01.toml"]),
  );
  expect(own.some((p) => relative(dir, p).startsWith("dynamodb/"))).toBe(true);
  for (const p of own)
    expect([relative(dir, p), mode(p)]).toEqual([
      relative(dir, p),
      statSync(p).isDirectory() ? 0o700 : 0o600,
    ]);
});

it("stays up when a device's command topic gets a message nested 100,000 levels deep", async () => {
  const s = stack as Stack;
  const [device] = s.deviceIds as [string];
  await eventually(() => s.ingest.stats().stored > 0, "the device's first batch");
  // Fed to the broker as the cloud would send it (too big for a device's own 128 KiB).
  for (const payload of [
    `${"[".repeat(100_000)}${"]".repeat(100_000)}`,
    `${'{"command":'.repeat(100_000)}1${"}".repeat(100_000)}`,
  ])
    await new Promise<void>((resolve, reject) =>
      s.broker.aedes.publish(
        {
          cmd: "publish",
          topic: `${s.topicPrefix}/${device}/commands`,
          payload: Buffer.from(payload),
          qos: 1,
          retain: false,
          dup: false,
        },
        (error) => (error ? reject(error) : resolve()),
      ),
    );
  const before = s.ingest.stats().received;
  await sleep(2_000);
  expect(unhandled).toEqual([]);
  // The device still publishes, the ingest still stores, the API still answers.
  await eventually(() => s.ingest.stats().received > before, "the device's next batch");
  expect((await fetch(`${s.apiUrl}/openapi.json`)).status).toBe(200);
});
