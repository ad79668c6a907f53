import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type LocalBroker, startLocalBroker } from "@medusa/adapters/broker";
import { presignedUrlPlaceholder } from "@medusa/adapters/jobs";
import { type BucketServer, startBucketServer } from "@medusa/adapters/s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundle, bundleLauncher } from "../scripts/bundle.mjs";
import { markerPath, previousPath, sha256Hex } from "./bundle-update.js";
import { eventually, sleep, testFolder, writeConfig } from "./testing/testbed.js";

// agent.update end to end, as on a device: the launcher runs the bundle (systemd's part, starting
// it again after every exit, is played by `supervise`), the job comes from the local broker's
// AWS IoT Jobs emulation, its bundle URL a presigned GET of the local S3 bucket server (TLS with
// the development CA), presigned by the Jobs service when it delivers the document.
const IDS = ["pi-u1", "pi-u2", "pi-u3", "pi-u4", "pi-u5", "pi-u6", "pi-u7"];
const BUCKET = "medusa-test-agent-bundles";
let folder: Awaited<ReturnType<typeof testFolder>>;
let broker: LocalBroker;
let bucket: BucketServer;
/** How far the bucket server's clock is ahead of the signer's (an expired URL). */
let bucketSkewMs = 0;
/** Awaited before the bucket serves an object. */
let beforeServe: ((object: { bucket: string; key: string }) => unknown) | undefined;
let launcher = "";
let v1 = "";
let v2 = Buffer.alloc(0);

beforeAll(async () => {
  folder = await testFolder([...IDS, "medusa-cloud"]);
  bucket = await startBucketServer({
    root: join(folder.dir, "buckets"),
    tls: folder.certs.server,
    buckets: [BUCKET],
    credentials: { accessKeyId: "AKIDUPDATETEST", secretAccessKey: "update-test-secret" },
    region: "local",
    now: () => Date.now() + bucketSkewMs,
    onServe: (object) => beforeServe?.(object),
  });
  broker = await startLocalBroker({
    port: 0,
    tls: { ca: folder.certs.ca, ...folder.certs.server },
    serviceIdentities: ["medusa-cloud"],
    jobs: { resolvePresignedUrl: (s3Url, c) => bucket.resolvePresignedUrl(s3Url, c) },
  });
  launcher = (
    await bundleLauncher({ outfile: join(folder.dir, "medusa-launcher.mjs"), quiet: true })
  ).outfile;
  v1 = (await bundle({ outfile: join(folder.dir, "v1", "medusa-device.mjs"), quiet: true }))
    .outfile;
  const built = await bundle({
    outfile: join(folder.dir, "v2", "medusa-device.mjs"),
    quiet: true,
    version: "0.2.0",
  });
  v2 = readFileSync(built.outfile);
}, 120_000);
afterAll(async () => {
  await broker?.close();
  await bucket?.close();
  folder?.remove();
});

/** systemd's Restart=always: the launcher started again 200 ms after every exit, until stopped. */
const supervise = (installed: string, config: string) => {
  let child: ChildProcess | undefined;
  let stopped = false;
  const output: Array<string> = [];
  const exits: Array<number | null> = [];
  const run = () => {
    child = spawn(process.execPath, [launcher, installed, "--config", config], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d: Buffer) => output.push(d.toString()));
    child.stderr?.on("data", (d: Buffer) => output.push(d.toString()));
    child.on("exit", (code) => {
      exits.push(code);
      if (!stopped) setTimeout(run, 200);
    });
  };
  run();
  return {
    output,
    exits,
    stop: async () => {
      stopped = true;
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const gone = new Promise((r) => c.once("exit", r));
        c.kill("SIGTERM");
        await Promise.race([gone, sleep(15_000)]);
      }
    },
  };
};

/** A device with v1 installed where the launcher runs it from. */
const install = (id: string, confirmS = 120) => {
  const dir = join(folder.dir, `agent-${id}`);
  mkdirSync(dir, { recursive: true });
  const installed = join(dir, "medusa-device.mjs");
  copyFileSync(v1, installed);
  const { path } = writeConfig(folder.dir, folder.certs, id, broker.port, {
    outbox: `\n[jobs]\nupdate_ca_file = "${folder.certs.paths.ca}"\nupdate_confirm_s = ${confirmS}\n`,
  });
  return { installed, config: path };
};

/** The bundle put in the bucket and an agent.update job created for it, as the API's adapter creates one. */
const offer = async (
  id: string,
  jobId: string,
  version: string,
  body: Buffer,
  options: { readonly sha256?: string; readonly expiresInSec?: number } = {},
) => {
  const key = `agent/${jobId}/medusa-device.mjs`;
  bucket.putObject(BUCKET, key, body);
  const created = await broker.jobs?.createJob({
    jobId,
    targets: [id],
    document: JSON.stringify({
      operation: "agent.update",
      version,
      url: presignedUrlPlaceholder(BUCKET, key),
      sha256: options.sha256 ?? sha256Hex(body),
    }),
    presignedUrlConfig: {
      roleArn: "arn:aws:iam::000000000000:role/presign",
      expiresInSec: options.expiresInSec ?? 3600,
    },
  });
  expect(created?.ok).toBe(true);
};
const execution = (id: string, jobId: string) => {
  const found = broker.jobs?.describeJobExecution(jobId, id);
  if (!found?.ok) return undefined;
  const e = found.value.execution;
  return { status: e.status, statusDetails: e.statusDetails ?? {} };
};

describe("agent.update through the launcher", () => {
  it("a good bundle is swapped in (the previous one kept), connects, and reports SUCCEEDED from the new version", async () => {
    const { installed, config } = install("pi-u1");
    const old = readFileSync(installed);
    const device = supervise(installed, config);
    try {
      await offer("pi-u1", "update-good", "0.2.0", v2);
      await eventually(
        () => execution("pi-u1", "update-good")?.status === "SUCCEEDED",
        "update-good SUCCEEDED",
        60_000,
      );
      expect(execution("pi-u1", "update-good")?.statusDetails).toMatchObject({
        version: "0.2.0",
        previous: "0.1.0",
      });
      // Downloaded through a presigned URL of the bucket, signature checked.
      expect(bucket.stats().served).toBeGreaterThanOrEqual(1);
      expect(readFileSync(installed).equals(v2)).toBe(true);
      expect(readFileSync(previousPath(installed)).equals(old)).toBe(true);
      expect(existsSync(markerPath(installed))).toBe(false);
      expect(device.output.join("")).toContain('"version":"0.2.0"');
    } finally {
      await device.stop();
    }
  }, 90_000);

  it("a bundle that crashes at start is rolled back by the launcher; the restored agent reports FAILED (rolled back)", async () => {
    const { installed, config } = install("pi-u2");
    const old = readFileSync(installed);
    const device = supervise(installed, config);
    try {
      await offer("pi-u2", "update-crash", "0.3.0", Buffer.from("process.exit(3);\n"));
      await eventually(
        () => execution("pi-u2", "update-crash")?.status === "FAILED",
        "update-crash FAILED",
        60_000,
      );
      expect(execution("pi-u2", "update-crash")?.statusDetails.reason).toMatch(
        /^rolled back: version 0\.3\.0 started 3 times without connecting/,
      );
      expect(execution("pi-u2", "update-crash")?.statusDetails.version).toBe("0.1.0");
      expect(readFileSync(installed).equals(old)).toBe(true);
      expect(device.exits.filter((c) => c === 3)).toHaveLength(3);
    } finally {
      await device.stop();
    }
  }, 90_000);

  it("a bundle that does not load is rolled back at once, in the same start", async () => {
    const { installed, config } = install("pi-u3");
    const old = readFileSync(installed);
    const device = supervise(installed, config);
    try {
      await offer("pi-u3", "update-broken", "0.4.0", Buffer.from("this is not JavaScript {\n"));
      await eventually(
        () => execution("pi-u3", "update-broken")?.status === "FAILED",
        "update-broken FAILED",
        60_000,
      );
      expect(execution("pi-u3", "update-broken")?.statusDetails.reason).toMatch(
        /^rolled back: version 0\.4\.0 failed to load: SyntaxError/,
      );
      expect(readFileSync(installed).equals(old)).toBe(true);
    } finally {
      await device.stop();
    }
  }, 90_000);

  it("a bundle that runs but never connects is rolled back at the deadline", async () => {
    const { installed, config } = install("pi-u4", 10);
    const old = readFileSync(installed);
    const device = supervise(installed, config);
    try {
      await offer(
        "pi-u4",
        "update-silent",
        "0.5.0",
        Buffer.from("setInterval(() => {}, 1000); // runs, never connects\n"),
      );
      await eventually(
        () => execution("pi-u4", "update-silent")?.status === "FAILED",
        "update-silent FAILED",
        60_000,
      );
      expect(execution("pi-u4", "update-silent")?.statusDetails.reason).toMatch(
        /^rolled back: version 0\.5\.0 did not connect by 20\d\d-/,
      );
      expect(readFileSync(installed).equals(old)).toBe(true);
    } finally {
      await device.stop();
    }
  }, 90_000);

  it("a presigned URL that has expired: S3's AccessDenied; FAILED with the reason, the old bundle still running", async () => {
    const { installed, config } = install("pi-u5");
    const old = readFileSync(installed);
    const device = supervise(installed, config);
    // The bucket's clock past the URL's 60 s: as when a device downloads after the job's expiry.
    bucketSkewMs = 61_000;
    try {
      await offer("pi-u5", "update-expired", "0.2.0", v2, { expiresInSec: 60 });
      await eventually(
        () => execution("pi-u5", "update-expired")?.status === "FAILED",
        "update-expired FAILED",
        60_000,
      );
      expect(execution("pi-u5", "update-expired")?.statusDetails).toMatchObject({
        reason: expect.stringMatching(/HTTP 403 AccessDenied: Request has expired$/),
        version: "0.1.0",
      });
      expect(readFileSync(installed).equals(old)).toBe(true);
      expect(existsSync(markerPath(installed))).toBe(false);
      expect(device.exits).toEqual([]);
      expect(bucket.stats().refused.AccessDenied).toBeGreaterThanOrEqual(1);
    } finally {
      bucketSkewMs = 0;
      await device.stop();
    }
  }, 90_000);

  it("a bundle whose sha256 is not the job's: FAILED with both digests, nothing changed, the old bundle still running", async () => {
    const { installed, config } = install("pi-u6");
    const old = readFileSync(installed);
    const device = supervise(installed, config);
    try {
      const wrong = sha256Hex(Buffer.from("another bundle"));
      await offer("pi-u6", "update-checksum", "0.2.0", v2, { sha256: wrong });
      await eventually(
        () => execution("pi-u6", "update-checksum")?.status === "FAILED",
        "update-checksum FAILED",
        60_000,
      );
      expect(execution("pi-u6", "update-checksum")?.statusDetails).toMatchObject({
        reason: `sha256 mismatch: expected ${wrong}, got ${sha256Hex(v2)} (${v2.length} bytes); nothing changed`,
        version: "0.1.0",
      });
      expect(readFileSync(installed).equals(old)).toBe(true);
      expect(existsSync(previousPath(installed))).toBe(false);
      expect(device.exits).toEqual([]);
    } finally {
      await device.stop();
    }
  }, 90_000);

  it("an update with a stale expectedVersion is answered VersionMismatch by the emulation; the agent gets the execution afresh and carries on to SUCCEEDED", async () => {
    const { installed, config } = install("pi-u7");
    const requests: Array<string> = [];
    const onPublish = (packet: { topic: string }) => {
      const m = /^\$aws\/things\/pi-u7\/jobs\/update-mismatch\/(update|get)$/.exec(packet.topic);
      if (m?.[1]) requests.push(m[1]);
    };
    broker.aedes.on("publish", onPublish);
    const rejectedBefore = broker.jobs?.stats().rejected ?? 0;
    // Another writer moves the execution's version while the agent downloads (as a second
    // instance of the agent would): the agent's next update carries a stale expectedVersion.
    beforeServe = async ({ key }) => {
      if (!key.includes("update-mismatch")) return;
      beforeServe = undefined;
      const found = broker.jobs?.describeJobExecution("update-mismatch", "pi-u7");
      expect(found?.ok && found.value.execution.status).toBe("IN_PROGRESS");
      broker.jobs?.handleRequest(
        "$aws/things/pi-u7/jobs/update-mismatch/update",
        JSON.stringify({
          status: "IN_PROGRESS",
          statusDetails: { note: "another writer" },
          expectedVersion: found?.ok ? found.value.execution.versionNumber : undefined,
        }),
      );
      await sleep(300);
    };
    const device = supervise(installed, config);
    try {
      await offer("pi-u7", "update-mismatch", "0.2.0", v2);
      await eventually(
        () => execution("pi-u7", "update-mismatch")?.status === "SUCCEEDED",
        "update-mismatch SUCCEEDED",
        60_000,
      );
      expect(execution("pi-u7", "update-mismatch")?.statusDetails).toMatchObject({
        version: "0.2.0",
      });
      expect(readFileSync(installed).equals(v2)).toBe(true);
      expect(broker.jobs?.stats().rejected ?? 0).toBeGreaterThan(rejectedBefore);
      // After the download: the refused update, a fresh get, the same update again.
      const afterDownload = requests.slice(requests.indexOf("get") - 1);
      expect(afterDownload.slice(0, 3)).toEqual(["update", "get", "update"]);
    } finally {
      beforeServe = undefined;
      broker.aedes.off("publish", onPublish);
      await device.stop();
    }
  }, 90_000);
});
