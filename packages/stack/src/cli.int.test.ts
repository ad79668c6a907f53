import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, portTaken, runCommand } from "@medusa/adapters/testing";
import { afterAll, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const main = fileURLToPath(new URL("./main.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "medusa-stack-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: ReadonlyArray<string>) =>
  runCommand(["--import", "tsx", "--conditions=@medusa/source", main, "--dir", dir, ...args], {
    cwd: root,
  });

/** One simulated device, every port free unless given. */
const small = (dynamoPort = 0) => [
  "--devices",
  "1",
  "--api-port",
  "0",
  "--mqtt-port",
  "0",
  "--dynamo-port",
  String(dynamoPort),
];

it("prints what runs where and a token, and stops cleanly on Ctrl-C with exit code 0", async () => {
  const stack = run(small());
  await stack.waitFor("Ctrl-C stops everything", 60_000);
  const out = stack.output();
  expect(out).toContain("✓ DynamoDB Local ready on http://127.0.0.1:");
  expect(out).toMatch(/API {10}http:\/\/127\.0\.0\.1:\d+/);
  expect(out).toMatch(/export TOKEN=ey[\w-]+\.[\w-]+\.[\w-]+/);
  expect(out).toContain('"device_id":"medusa-sim-01","patient_id":"P-001"');
  stack.child.kill("SIGINT");
  expect(await stack.exited).toBe(0);
  expect(stack.output()).toContain("stopped.");
  // Everything the run made in the data folder, by the stack, DynamoDB Local's JVM or a
  // device's outbox, is owner-only.
  const open = readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => join(e.parentPath, e.name))
    .filter((p) => statSync(p).mode & 0o077);
  expect(open).toEqual([]);
  expect(statSync(dir).mode & 0o777).toBe(0o700);
});

it("names a port that is taken, and the option that changes it", async () => {
  const server = createServer();
  const port = await new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
  try {
    const stack = run(["--api-port", String(port), "--mqtt-port", "0", "--dynamo-port", "0"]);
    expect(await stack.exited).toBe(1);
    expect(stack.output()).toContain(
      `port ${port} on 127.0.0.1 (the API) is already in use; choose another with --api-port`,
    );
  } finally {
    server.close();
  }
});

it("stops what has started, DynamoDB Local included, when Ctrl-C comes during start-up", async () => {
  const dynamoPort = await freePort();
  const stack = run(small(dynamoPort));
  // The JVM is being spawned or coming up: not ready yet.
  await stack.waitFor("starting DynamoDB Local (Java) …", 60_000);
  await new Promise((r) => setTimeout(r, 300));
  expect(stack.output()).not.toContain("Ctrl-C stops everything");
  stack.child.kill("SIGINT");
  expect(await stack.exited).toBe(0);
  expect(stack.output()).toContain("SIGINT: stopping …");
  expect(stack.output()).toContain("stopped.");
  // No Java left behind: the port is free, so the next start can have it.
  expect(await portTaken(dynamoPort)).toBe(false);
});
