import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { join } from "node:path";
import { type LocalBroker, startLocalBroker } from "@medusa/adapters/broker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundle, bundleLauncher } from "../scripts/bundle.mjs";
import { markerPath, previousPath, sha256Hex } from "./bundle-update.js";
import { jobsPolicy, startJobsResponder } from "./testing/jobs-responder.js";
import { eventually, sleep, testFolder, writeConfig } from "./testing/testbed.js";

// agent.update end to end, as on a device: the launcher runs the bundle (systemd's part, starting
// it again after every exit, is played by `supervise`), the job comes from a scripted responder
// with AWS's documented Jobs payloads, the new bundle from an https server with the dev CA.
const IDS = ["pi-u1", "pi-u2", "pi-u3", "pi-u4"];
let folder: Awaited<ReturnType<typeof testFolder>>;
let broker: LocalBroker;
let jobs: Awaited<ReturnType<typeof startJobsResponder>>;
let https: Server;
let httpsPort = 0;
const files = new Map<string, Buffer>();
let launcher = "";
let v1 = "";
let v2 = Buffer.alloc(0);

beforeAll(async () => {
  folder = await testFolder([...IDS, "medusa-cloud"]);
  broker = await startLocalBroker({
    port: 0,
    tls: { ca: folder.certs.ca, ...folder.certs.server },
    serviceIdentities: ["medusa-cloud"],
    // The scripted responder is the Jobs service here: the broker's own emulation is off.
    jobs: false,
    principalOf: jobsPolicy(IDS),
  });
  jobs = await startJobsResponder(folder.certs, broker.port);
  https = createServer({ ...folder.certs.server }, (req, res) => {
    const body = files.get(req.url ?? "");
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { "content-length": body.length }).end(body);
  });
  await new Promise<void>((r) => https.listen(0, "127.0.0.1", r));
  const address = https.address();
  httpsPort = typeof address === "object" && address ? address.port : 0;
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
  await jobs?.close();
  await broker?.close();
  https?.close();
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

const offer = async (id: string, jobId: string, version: string, body: Buffer) => {
  const path = `/agent/${jobId}.mjs`;
  files.set(path, body);
  await jobs.createJob(id, jobId, {
    operation: "agent.update",
    version,
    url: `https://127.0.0.1:${httpsPort}${path}`,
    sha256: sha256Hex(body),
  });
};
const execution = (id: string, jobId: string) => jobs.execution(id, jobId);

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
});
