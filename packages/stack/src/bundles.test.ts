import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { AGENT_BUNDLE_BUCKET, InvalidBundle, presignCredentials, putBundle } from "./bundles.js";
import { main } from "./cli.js";

const dir = mkdtempSync(join(tmpdir(), "medusa-bundles-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// A stand-in bundle that answers `--version` as the agent's bundle does.
const bundleFile = join(dir, "medusa-device.mjs");
writeFileSync(bundleFile, 'console.log("0.9.1");\n');
const sha = createHash("sha256").update(readFileSync(bundleFile)).digest("hex");

describe("put-bundle", () => {
  it("puts the bundle in the bucket's folder under agent/VERSION/, its version asked of it, and says what job installs it", () => {
    const put = putBundle({ dir, file: bundleFile });
    expect(put).toMatchObject({
      bucket: AGENT_BUNDLE_BUCKET,
      key: "agent/0.9.1/medusa-device.mjs",
      version: "0.9.1",
      sha256: sha,
      jobRequest: {
        type: "agent.update",
        version: "0.9.1",
        bundle_key: "agent/0.9.1/medusa-device.mjs",
        sha256: sha,
      },
      jobDocument: {
        operation: "agent.update",
        url: `\${aws:iot:s3-presigned-url:https://s3.amazonaws.com/${AGENT_BUNDLE_BUCKET}/agent/0.9.1/medusa-device.mjs}`,
      },
    });
    const stored = join(dir, "buckets", AGENT_BUNDLE_BUCKET, "agent/0.9.1/medusa-device.mjs");
    expect(readFileSync(stored).equals(readFileSync(bundleFile))).toBe(true);
    expect(statSync(stored).mode & 0o777).toBe(0o600);
  });

  it("refuses a key the API would refuse, a bad version, a missing file", () => {
    expect(() => putBundle({ dir, file: bundleFile, key: "../x" })).toThrow(InvalidBundle);
    expect(() => putBundle({ dir, file: bundleFile, key: "a/../b" })).toThrow(InvalidBundle);
    expect(() => putBundle({ dir, file: bundleFile, version: "not a version" })).toThrow(
      /--version not a version/,
    );
    expect(() => putBundle({ dir, file: join(dir, "nothing.mjs") })).toThrow(/no such file/);
  });

  it("the command prints the key, the sha256, the API request and the job document", async () => {
    const out = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const code = await main([
        "put-bundle",
        bundleFile,
        "--key",
        "agent/custom.mjs",
        "--version",
        "1.0.0",
        "--dir",
        dir,
      ]);
      expect(code).toBe(0);
      const text = out.mock.calls.map((c) => String(c[0])).join("\n");
      expect(text).toContain("key      agent/custom.mjs");
      expect(text).toContain(`sha256   ${sha}`);
      expect(text).toContain(
        `-d '{"type":"agent.update","version":"1.0.0","bundle_key":"agent/custom.mjs","sha256":"${sha}"}'`,
      );
      expect(text).toContain('"operation":"agent.update"');
    } finally {
      out.mockRestore();
    }
    const err = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      expect(await main(["put-bundle", "--dir", dir])).toBe(2);
    } finally {
      err.mockRestore();
    }
  });

  it("the presigning secret is made once and kept with the data", () => {
    const first = presignCredentials(dir);
    expect(presignCredentials(dir)).toEqual(first);
    expect(statSync(join(dir, "s3-presign-secret")).mode & 0o777).toBe(0o600);
  });
});
