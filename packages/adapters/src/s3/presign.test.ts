import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { objectPath } from "./bucket-server.js";
import { checkPresigned, presignGetUrl, type S3Credentials } from "./presign.js";

// AWS's worked example of a presigned URL ("Authenticating Requests: Using Query
// Parameters (AWS Signature Version 4)", Amazon S3 API reference): the same inputs
// must give the documented URL, signature included.
const AWS_EXAMPLE: S3Credentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const AWS_EXAMPLE_URL =
  "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
const SIGNED_AT = Date.UTC(2013, 4, 24);

const requestOf = (url: string, host = new URL(url).host, method = "GET") => {
  const u = new URL(url);
  return { method, rawPath: u.pathname, rawQuery: u.search.slice(1), headers: { host } };
};
const secrets = (id: string) =>
  id === AWS_EXAMPLE.accessKeyId ? AWS_EXAMPLE.secretAccessKey : undefined;

describe("SigV4 query-string presigning", () => {
  it("gives AWS's documented example URL and signature", () => {
    expect(
      presignGetUrl({
        endpoint: "https://examplebucket.s3.amazonaws.com",
        path: "/test.txt",
        expiresInSec: 86400,
        credentials: AWS_EXAMPLE,
        region: "us-east-1",
        now: SIGNED_AT,
      }),
    ).toBe(AWS_EXAMPLE_URL);
  });

  it("accepts AWS's example within its validity and refuses it after, as S3 does", () => {
    expect(checkPresigned(requestOf(AWS_EXAMPLE_URL), secrets, SIGNED_AT + 1_000)).toBeUndefined();
    expect(
      checkPresigned(requestOf(AWS_EXAMPLE_URL), secrets, SIGNED_AT + 86_400_000),
    ).toBeUndefined();
    expect(
      checkPresigned(requestOf(AWS_EXAMPLE_URL), secrets, SIGNED_AT + 86_401_000),
    ).toMatchObject({
      status: 403,
      code: "AccessDenied",
      message: "Request has expired",
      details: [
        ["X-Amz-Expires", "86400"],
        ["Expires", "2013-05-25T00:00:00.000Z"],
        ["ServerTime", "2013-05-25T00:00:01.000Z"],
      ],
    });
  });

  it("refuses a changed signature, path, parameter, host or method with SignatureDoesNotMatch", () => {
    const at = SIGNED_AT + 1_000;
    const changed = [
      AWS_EXAMPLE_URL.replace("Signature=aeee", "Signature=beee"),
      AWS_EXAMPLE_URL.replace("/test.txt", "/test.txT"),
      AWS_EXAMPLE_URL.replace("X-Amz-Expires=86400", "X-Amz-Expires=86401"),
    ];
    for (const url of changed)
      expect(checkPresigned(requestOf(url), secrets, at)?.code).toBe("SignatureDoesNotMatch");
    expect(
      checkPresigned(requestOf(AWS_EXAMPLE_URL, "otherbucket.s3.amazonaws.com"), secrets, at)?.code,
    ).toBe("SignatureDoesNotMatch");
    expect(checkPresigned(requestOf(AWS_EXAMPLE_URL, undefined, "DELETE"), secrets, at)?.code).toBe(
      "SignatureDoesNotMatch",
    );
  });

  it("refuses what S3 refuses before the signature: no parameters, some, a bad algorithm or expiry, an unknown key", () => {
    const at = SIGNED_AT + 1_000;
    const check = (url: string) => checkPresigned(requestOf(url), secrets, at);
    expect(check("https://examplebucket.s3.amazonaws.com/test.txt")).toMatchObject({
      status: 403,
      code: "AccessDenied",
      message: "Access Denied",
    });
    expect(check(AWS_EXAMPLE_URL.replace(/&X-Amz-Date=[^&]*/, ""))).toMatchObject({
      status: 400,
      code: "AuthorizationQueryParametersError",
    });
    expect(check(AWS_EXAMPLE_URL.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"))?.code).toBe(
      "AuthorizationQueryParametersError",
    );
    expect(
      check(AWS_EXAMPLE_URL.replace("X-Amz-Expires=86400", "X-Amz-Expires=604801")),
    ).toMatchObject({
      status: 400,
      message: "X-Amz-Expires must be less than a week (in seconds) that is; 604800",
    });
    expect(
      check(AWS_EXAMPLE_URL.replace("AKIAIOSFODNN7EXAMPLE", "AKIAOTHEREXAMPLE0000")),
    ).toMatchObject({
      status: 403,
      code: "InvalidAccessKeyId",
    });
  });

  it("every key, bucket, expiry and time: a presigned GET is accepted until it expires, and only then refused", () => {
    const credentials = { accessKeyId: "AKIDLOCAL", secretAccessKey: "s3cr3t/with+chars" };
    const own = (id: string) =>
      id === credentials.accessKeyId ? credentials.secretAccessKey : undefined;
    fc.assert(
      fc.property(
        fc.stringMatching(/^[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]$/),
        fc.array(
          fc
            .string({ minLength: 1, maxLength: 12 })
            // URL clients drop `.` and `..` segments; keys with them cannot be fetched by URL.
            .filter((s) => !s.includes("/") && s !== "." && s !== ".."),
          {
            minLength: 1,
            maxLength: 4,
          },
        ),
        fc.integer({ min: 1, max: 3600 }),
        fc.integer({ min: 0, max: 4_000_000_000_000 }),
        (bucket, segments, expiresInSec, now) => {
          const signedAt = now - (now % 1000);
          const url = presignGetUrl({
            endpoint: "https://127.0.0.1:4443",
            path: `/${bucket}/${segments.join("/")}`,
            expiresInSec,
            credentials,
            region: "local",
            now,
          });
          const request = requestOf(url);
          expect(decodeURIComponent(request.rawPath)).toBe(`/${bucket}/${segments.join("/")}`);
          expect(checkPresigned(request, own, signedAt + expiresInSec * 1000)).toBeUndefined();
          expect(checkPresigned(request, own, signedAt + expiresInSec * 1000 + 1)?.code).toBe(
            "AccessDenied",
          );
        },
      ),
    );
  });
});

describe("objectPath", () => {
  it("keeps every object inside its bucket's folder", () => {
    expect(objectPath("/r", "bucket-a", "agent/v1.mjs")).toBe("/r/bucket-a/agent/v1.mjs");
    for (const key of ["", "../x", "a/../../x", "a//b", "./a", "a\0b"])
      expect(objectPath("/r", "bucket-a", key)).toBeUndefined();
    expect(objectPath("/r", "..", "x")).toBeUndefined();
    expect(objectPath("/r", "Bucket", "x")).toBeUndefined();
  });
});
