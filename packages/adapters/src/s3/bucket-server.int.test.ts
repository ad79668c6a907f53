import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevCa, issueServerCert } from "../broker/dev-ca.js";
import { presignedUrlPlaceholder, resolvePresignedUrls } from "../jobs/document.js";
import { type BucketServer, startBucketServer } from "./bucket-server.js";

// The local agent-bundle bucket, fetched as an agent fetches a bundle: https, the
// development CA trusted, a presigned GET; S3's answers when it is refused.
const BUCKET = "medusa-local-agent-bundles";
let root: string;
let ca: string;
let server: BucketServer;
let skewMs = 0;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "medusa-s3-"));
  const authority = await createDevCa();
  ca = authority.cert;
  const tls = await issueServerCert(authority);
  server = await startBucketServer({
    root,
    tls,
    buckets: [BUCKET],
    credentials: { accessKeyId: "AKIDMEDUSALOCAL", secretAccessKey: "local-secret" },
    region: "local",
    now: () => Date.now() + skewMs,
  });
  server.putObject(BUCKET, "agent/0.2.0/medusa-device.mjs", Buffer.from("console.log('v2');\n"));
});
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const get = (url: string, method = "GET") =>
  new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((done, fail) => {
    const req = request(url, { method, ca }, (res) => {
      const chunks: Array<Buffer> = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        done({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString(),
          headers: res.headers,
        }),
      );
    });
    req.on("error", fail);
    req.end();
  });
const code = (xml: string) => /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];

describe("the local bucket server, as S3 answers presigned GETs", () => {
  it("serves an object to a presigned GET within its validity, with S3's headers", async () => {
    const url = server.presign(BUCKET, "agent/0.2.0/medusa-device.mjs", 60);
    expect(new URL(url).searchParams.get("X-Amz-Expires")).toBe("60");
    const res = await get(url);
    expect(res.status).toBe(200);
    expect(res.body).toBe("console.log('v2');\n");
    expect(res.headers.etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect(res.headers["x-amz-request-id"]).toEqual(expect.any(String));
  });

  it("refuses an expired URL: 403 AccessDenied, Request has expired", async () => {
    const url = server.presign(BUCKET, "agent/0.2.0/medusa-device.mjs", 60);
    skewMs = 61_000;
    try {
      const res = await get(url);
      expect(res.status).toBe(403);
      expect(res.headers["content-type"]).toBe("application/xml");
      expect(res.body).toMatch(
        /^<\?xml version="1.0" encoding="UTF-8"\?>\n<Error><Code>AccessDenied<\/Code><Message>Request has expired<\/Message><X-Amz-Expires>60<\/X-Amz-Expires><Expires>/,
      );
    } finally {
      skewMs = 0;
    }
  });

  it("refuses a tampered URL (SignatureDoesNotMatch), an unsigned one (AccessDenied), a missing key (NoSuchKey) and bucket (NoSuchBucket)", async () => {
    const url = server.presign(BUCKET, "agent/0.2.0/medusa-device.mjs", 60);
    const other = url.replace("0.2.0", "0.3.0");
    const tampered = await get(other);
    expect([tampered.status, code(tampered.body)]).toEqual([403, "SignatureDoesNotMatch"]);
    const unsigned = await get(`${server.url}/${BUCKET}/agent/0.2.0/medusa-device.mjs`);
    expect([unsigned.status, code(unsigned.body)]).toEqual([403, "AccessDenied"]);
    const missing = await get(server.presign(BUCKET, "agent/9.9.9/medusa-device.mjs", 60));
    expect([missing.status, code(missing.body)]).toEqual([404, "NoSuchKey"]);
    expect(missing.body).toContain("<Key>agent/9.9.9/medusa-device.mjs</Key>");
    const noBucket = await get(server.presign("no-such-bucket", "x", 60));
    expect([noBucket.status, code(noBucket.body)]).toEqual([404, "NoSuchBucket"]);
    // The client drops the `..` segments: another path than the one signed.
    const outside = await get(server.presign(BUCKET, "../../etc/passwd", 60));
    expect([outside.status, code(outside.body)]).toEqual([403, "SignatureDoesNotMatch"]);
    const head = await get(url, "HEAD");
    expect(head.status).toBe(403); // presigned for GET: another method is another signature
    expect(server.stats().refused).toMatchObject({ SignatureDoesNotMatch: 3, NoSuchKey: 1 });
  });

  it("resolves a job document's S3 placeholder into a URL it serves, with the job's expiry", async () => {
    const document = resolvePresignedUrls(
      { url: presignedUrlPlaceholder(BUCKET, "agent/0.2.0/medusa-device.mjs") },
      (s3Url) => server.resolvePresignedUrl(s3Url, { expiresInSec: 120 }),
    );
    expect(document.url.startsWith(`${server.url}/${BUCKET}/agent/0.2.0/medusa-device.mjs?`)).toBe(
      true,
    );
    expect(new URL(document.url).searchParams.get("X-Amz-Expires")).toBe("120");
    expect((await get(document.url)).body).toBe("console.log('v2');\n");
  });
});
