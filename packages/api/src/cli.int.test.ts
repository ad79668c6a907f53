import { spawnSync } from "node:child_process";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { freePort, runCommand, testTables } from "@medusa/adapters/testing";
import { beforeAll, expect, inject, it } from "vitest";
import { bundle } from "../scripts/bundle.mjs";
import { startServer } from "./server.js";
import { signToken, TEST_SECRET } from "./testing/index.js";

const bin = fileURLToPath(new URL("../bin/medusa-api.mjs", import.meta.url));
beforeAll(() => bundle({ quiet: true })); // dist/medusa-api.mjs, what the bin runs

it("the Node server starts from the environment alone and serves the API on DynamoDB", async () => {
  const t = await testTables(inject("dynamoEndpoint"));
  // Credentials come from the SDK's standard chain (the process environment here), as in AWS.
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: "local", AWS_SECRET_ACCESS_KEY: "local" });
  const server = startServer({
    PORT: "0",
    AWS_REGION: "local",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
    MEDUSA_JWT_SECRET: TEST_SECRET,
    MEDUSA_TABLE_PREFIX: t.tables.events.replace("medusa-assignment-events", ""),
  });
  try {
    await new Promise((r) => server.once("listening", r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const token = await signToken({ email: "nurse@clinic.example", roles: ["clinician"] });
    const device = `cli-pi-${Date.now()}`;
    const assigned = await fetch(`${base}/api/devices/assign`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ device_id: device, patient_id: "P-1", patient_name: "A" }),
    });
    expect(assigned.status).toBe(201);
    const lookup = await fetch(`${base}/api/devices/${device}/patient`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await lookup.json()).toMatchObject({ patient: { patient_id: "P-1" } });
  } finally {
    await new Promise((r) => server.close(r));
    await t.drop();
  }
});

it("medusa-api, the installed command, serves the API from the environment and stops on SIGTERM with 0", async () => {
  const t = await testTables(inject("dynamoEndpoint"));
  const port = await freePort();
  const api = runCommand([bin], {
    env: {
      PATH: process.env.PATH ?? "",
      PORT: String(port),
      AWS_REGION: "local",
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
      MEDUSA_JWT_SECRET: TEST_SECRET,
      MEDUSA_TABLE_PREFIX: t.tables.events.replace("medusa-assignment-events", ""),
    },
  });
  try {
    await api.waitFor("medusa-api listening");
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const token = await signToken({ email: "nurse@clinic.example", roles: ["clinician"] });
    const device = `bin-pi-${Date.now()}`;
    const assigned = await fetch(`${base}/api/devices/assign`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({
        device_id: device,
        patient_id: "P-2",
        patient_name: "Beatrix Example",
      }),
    });
    expect(assigned.status).toBe(201);
    api.child.kill("SIGTERM");
    expect(await api.exited).toBe(0);
    // Request ids, no patient names in the log.
    expect(api.output()).toContain("request_id");
    expect(api.output()).not.toContain("Beatrix");
  } finally {
    api.child.kill("SIGKILL");
    await t.drop();
  }
});

it("medusa-api stops at start-up with exit code 2 and a message naming the bad setting", () => {
  const run = (env: Record<string, string>) =>
    spawnSync(process.execPath, [bin], {
      env: { PATH: process.env.PATH ?? "", ...env },
      encoding: "utf8",
      timeout: 60_000,
    });
  const missing = run({});
  expect(missing.status).toBe(2);
  expect(missing.stderr).toContain("MEDUSA_JWT_SECRET or MEDUSA_JWKS_URL is required");
  const badPort = run({ MEDUSA_JWT_SECRET: TEST_SECRET, PORT: "eighty" });
  expect(badPort.status).toBe(2);
  expect(badPort.stderr).toContain("PORT=eighty");
});
