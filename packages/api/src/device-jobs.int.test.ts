import { connectIotDeviceJobs, localCredentials } from "@medusa/adapters";
import { JobsService, startJobsControlPlane } from "@medusa/adapters/broker";
import { makeInMemoryStores } from "@medusa/adapters/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { portsOf } from "./testing/app-suite.js";
import { signToken, testAuth } from "./testing/index.js";

// The jobs routes on the AWS adapter, against the local Jobs service's emulated control plane.
const service = new JobsService({
  publish: () => {},
  resolvePresignedUrl: (u) => `https://bundles.local/${encodeURIComponent(u)}`,
});
let plane: Awaited<ReturnType<typeof startJobsControlPlane>>;
let connection: ReturnType<typeof connectIotDeviceJobs>;
let clinician: string;
let viewer: string;
beforeAll(async () => {
  plane = await startJobsControlPlane(service);
  connection = connectIotDeviceJobs({
    endpoint: plane.url,
    region: "local",
    credentials: localCredentials,
    bundleBucket: "bundles",
    presignRoleArn: "arn:aws:iam::000000000000:role/presign",
  });
  clinician = await signToken({ email: "c@clinic.example", roles: ["clinician"] });
  viewer = await signToken({ email: "v@clinic.example", roles: ["viewer"] });
});
afterAll(async () => {
  connection.close();
  await plane.close();
  await service.close();
});

const setup = () => {
  const app = createApp({
    layer: portsOf(makeInMemoryStores(), () => Date.now()),
    authenticate: testAuth(),
    log: () => {},
    jobs: connection.jobs,
  });
  return (method: string, path: string, token: string, body?: unknown, etag?: string) =>
    app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        ...(etag !== undefined ? { "if-none-match": etag } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
};

describe("a device's jobs", () => {
  it("a clinician creates jobs; a viewer lists them with their status", async () => {
    const call = setup();
    const created = await call("POST", "/api/devices/pi-9/jobs", clinician, {
      type: "config.set",
      settings: { sensor: { sample_rate_hz: 25 } },
    });
    expect(created.status).toBe(201);
    const job = await created.json();
    expect(job).toMatchObject({
      job_id: expect.stringMatching(/^config-set-/),
      device_id: "pi-9",
      type: "config.set",
      status: "QUEUED",
      status_details: {},
      started_at: null,
      version: 1,
    });
    const update = await call("POST", "/api/devices/pi-9/jobs", clinician, {
      type: "agent.update",
      version: "0.5.0",
      bundle_key: "agent-0.5.0.mjs",
      sha256: "ab".repeat(32),
    });
    expect(update.status).toBe(201);
    const listed = (await (await call("GET", "/api/devices/pi-9/jobs", viewer)).json()) as {
      device_id: string;
      jobs: Array<{ type: string }>;
    };
    expect(listed.device_id).toBe("pi-9");
    expect(listed.jobs.map((j) => j.type).sort()).toEqual(["agent.update", "config.set"]);
  });

  it("the list answers 304 to the ETag of an unchanged list, 200 with a new tag once a job is added", async () => {
    const call = setup();
    const read = (etag?: string) =>
      call("GET", "/api/devices/pi-etag/jobs", viewer, undefined, etag);
    const first = await read();
    expect(first.status).toBe(200);
    const tag = first.headers.get("etag") ?? "";
    expect(tag).toMatch(/^W\/"/);
    const same = await read(tag);
    expect(same.status).toBe(304);
    expect(await same.text()).toBe("");
    expect(
      (await call("POST", "/api/devices/pi-etag/jobs", clinician, { type: "outbox.flush" })).status,
    ).toBe(201);
    const changed = await read(tag);
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(tag);
    expect(((await changed.json()) as { jobs: unknown[] }).jobs).toHaveLength(1);
  });

  it("refuses what the agent would refuse, and viewers writing", async () => {
    const call = setup();
    for (const body of [
      { type: "config.set", settings: { sensor: { sample_rate_hz: 0 } } },
      { type: "config.set", settings: {} },
      { type: "agent.update", version: "1", bundle_key: "../etc/passwd", sha256: "ab".repeat(32) },
      { type: "agent.update", version: "1", bundle_key: "a.mjs", sha256: "nope" },
      { type: "rm -rf" },
    ])
      expect((await call("POST", "/api/devices/pi-9/jobs", clinician, body)).status).toBe(400);
    expect(
      (await call("POST", "/api/devices/pi-9/jobs", viewer, { type: "agent.restart" })).status,
    ).toBe(403);
  });
});
