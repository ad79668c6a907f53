import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureDevCerts } from "@medusa/adapters/broker";
import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { certificateIdOfPem, certificateRotation } from "./certificate-rotation.js";
import type { JobExecution } from "./jobs-protocol.js";

// A power cut mid-rotation: the agent starts again, start-next gives the execution back
// IN_PROGRESS, and the files decide: installed → SUCCEEDED, not installed → FAILED, the old kept.
let dir: string;
let certs: Awaited<ReturnType<typeof ensureDevCerts>>;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "medusa-rotation-"));
  certs = await ensureDevCerts(join(dir, "certs"), ["pi-old", "pi-new"]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const transport = { connected: true } as Pick<MqttConnectionService, "connected">;
const setUp = (name: string) => {
  const paths = {
    cert: join(dir, `${name}.pem`),
    key: join(dir, `${name}.key`),
    state: join(dir, `${name}-rotation.json`),
  };
  const old = certs.paths.clients["pi-old"];
  const fresh = certs.paths.clients["pi-new"];
  if (!old || !fresh) throw new Error("no certificates");
  copyFileSync(old.cert, paths.cert);
  copyFileSync(old.key, paths.key);
  const rotation = certificateRotation({
    thingName: "pi-old",
    certPath: paths.cert,
    keyPath: paths.key,
    statePath: paths.state,
    transport: transport as MqttConnectionService,
    log: () => {},
  });
  return { paths, old, fresh, rotation };
};
const execution = (jobId: string, statusDetails: Record<string, string> = {}): JobExecution => ({
  jobId,
  status: "IN_PROGRESS",
  statusDetails,
  jobDocument: { operation: "certificate.rotate", template: "medusa-dev-rotation" },
  versionNumber: 3,
});

describe("certificate.rotate after a restart", () => {
  it("a job never begun here runs now", () => {
    const { rotation } = setUp("fresh");
    expect(rotation.resume(execution("job-0"))).toBe("again");
  });

  it("cut between the two renames: the key is moved into place, SUCCEEDED", () => {
    const { paths, old, fresh, rotation } = setUp("cut-install");
    const newId = certificateIdOfPem(readFileSync(fresh.cert, "utf8"));
    const oldId = certificateIdOfPem(readFileSync(old.cert, "utf8"));
    writeFileSync(
      paths.state,
      JSON.stringify({
        jobId: "job-1",
        step: "installing",
        certificateId: newId,
        previousCertificateId: oldId,
      }),
    );
    copyFileSync(fresh.cert, paths.cert); // the certificate renamed in place…
    copyFileSync(fresh.key, `${paths.key}.next`); // …its key not yet
    expect(rotation.resume(execution("job-1", { step: "connecting" }))).toEqual({
      kind: "done",
      report: {
        status: "SUCCEEDED",
        details: { certificate_id: newId, previous_certificate_id: oldId },
      },
    });
    expect(readFileSync(paths.key, "utf8")).toBe(readFileSync(fresh.key, "utf8"));
    expect(existsSync(`${paths.key}.next`)).toBe(false);
    expect(existsSync(paths.state)).toBe(false);
  });

  it("cut before the new certificate was installed: FAILED, the .next files gone, the old pair kept", () => {
    const { paths, old, fresh, rotation } = setUp("cut-register");
    const oldId = certificateIdOfPem(readFileSync(old.cert, "utf8"));
    writeFileSync(
      paths.state,
      JSON.stringify({
        jobId: "job-2",
        step: "registering",
        certificateId: certificateIdOfPem(readFileSync(fresh.cert, "utf8")),
        previousCertificateId: oldId,
      }),
    );
    copyFileSync(fresh.cert, `${paths.cert}.next`);
    copyFileSync(fresh.key, `${paths.key}.next`);
    const outcome = rotation.resume(execution("job-2", { step: "registering" }));
    expect(outcome).toMatchObject({
      kind: "done",
      report: { status: "FAILED", details: { certificate_id: oldId } },
    });
    expect(
      outcome !== "again" && outcome.kind === "done" && outcome.report.details.reason,
    ).toContain("step registering");
    expect(existsSync(`${paths.cert}.next`)).toBe(false);
    expect(existsSync(`${paths.key}.next`)).toBe(false);
    expect(readFileSync(paths.cert, "utf8")).toBe(readFileSync(old.cert, "utf8"));
    expect(readFileSync(paths.key, "utf8")).toBe(readFileSync(old.key, "utf8"));
  });

  it("an agent without a state file but a step on the service: FAILED explicitly", () => {
    const { rotation } = setUp("lost-state");
    expect(rotation.resume(execution("job-3", { step: "requesting" }))).toMatchObject({
      report: { status: "FAILED" },
    });
  });
});
