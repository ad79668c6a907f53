// Signature Version 4 in the query string, as S3 documents it for presigned URLs
// ("Authenticating Requests: Using Query Parameters (AWS Signature Version 4)"):
// the signer and the check, with Node's crypto only. Synchronous on purpose: the Jobs
// service presigns while it delivers a document, in the order the requests arrived.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const SIGV4_ALGORITHM = "AWS4-HMAC-SHA256";
/** S3's longest presigned URL: seven days. */
export const MAX_PRESIGNED_EXPIRY_SEC = 604_800;
/** A presigned URL's payload is not signed: anyone with the URL may GET the object. */
const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** AWS's URI encoding: every byte but `A-Za-z0-9-._~` as `%XX` (upper case); `/` kept in paths. */
export const uriEncode = (value: string, keepSlash = false): string =>
  Array.from(new TextEncoder().encode(value), (byte) => {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(c) || (keepSlash && c === "/")) return c;
    return `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }).join("");

/** `20130524T000000Z`. */
export const amzDate = (ms: number): string =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");

/** The epoch ms of an `X-Amz-Date`, or undefined when it is not one. */
export const parseAmzDate = (value: string): number | undefined => {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const ms = Date.UTC(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
  );
  return amzDate(ms) === value ? ms : undefined;
};

const hmac = (key: Buffer | string, data: string): Buffer =>
  createHmac("sha256", key).update(data, "utf8").digest();

const signingKey = (secret: string, day: string, region: string, service: string): Buffer =>
  hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), "aws4_request");

/** The parts of a GET that its signature covers. */
export interface CanonicalGet {
  readonly method: string;
  /** The object's path, not encoded (`/bucket/key`). */
  readonly path: string;
  /** The query parameters, decoded, `X-Amz-Signature` left out. */
  readonly query: ReadonlyArray<readonly [string, string]>;
  /** The signed headers, lower-case names, sorted. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
}

export const canonicalRequest = (r: CanonicalGet): string => {
  const query = r.query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  return [
    r.method,
    uriEncode(r.path, true),
    query,
    ...r.headers.map(([name, value]) => `${name}:${value.trim().replace(/\s+/g, " ")}`),
    "",
    r.headers.map(([name]) => name).join(";"),
    UNSIGNED_PAYLOAD,
  ].join("\n");
};

export const stringToSign = (date: string, scope: string, canonical: string): string =>
  [SIGV4_ALGORITHM, date, scope, createHash("sha256").update(canonical).digest("hex")].join("\n");

/** The signature of a canonical request with a secret, for its scope (`day/region/service/aws4_request`). */
export const signature = (
  secret: string,
  date: string,
  scope: string,
  canonical: string,
): string => {
  const [day = "", region = "", service = ""] = scope.split("/");
  return createHmac("sha256", signingKey(secret, day, region, service))
    .update(stringToSign(date, scope, canonical))
    .digest("hex");
};

export interface PresignGetInput {
  /** Where the object is served: `https://host[:port]`. */
  readonly endpoint: string;
  /** The object's path on it, not encoded: `/{bucket}/{key}` (path style) or `/{key}` (virtual-hosted). */
  readonly path: string;
  readonly expiresInSec: number;
  readonly credentials: S3Credentials;
  readonly region: string;
  /** The signing time, epoch ms. */
  readonly now: number;
}

/**
 * A presigned GET of an object: `X-Amz-Algorithm`, `-Credential`,
 * `-Date`, `-Expires`, `-SignedHeaders` (`host`) and `-Signature` in the query.
 */
export const presignGetUrl = (input: PresignGetInput): string => {
  if (
    !Number.isInteger(input.expiresInSec) ||
    input.expiresInSec < 1 ||
    input.expiresInSec > MAX_PRESIGNED_EXPIRY_SEC
  )
    throw new RangeError(`expiresInSec must be from 1 to ${MAX_PRESIGNED_EXPIRY_SEC}`);
  const base = new URL(input.endpoint);
  const date = amzDate(input.now);
  const scope = `${date.slice(0, 8)}/${input.region}/s3/aws4_request`;
  const query: Array<[string, string]> = [
    ["X-Amz-Algorithm", SIGV4_ALGORITHM],
    ["X-Amz-Credential", `${input.credentials.accessKeyId}/${scope}`],
    ["X-Amz-Date", date],
    ["X-Amz-Expires", String(input.expiresInSec)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const path = input.path;
  const sig = signature(
    input.credentials.secretAccessKey,
    date,
    scope,
    canonicalRequest({ method: "GET", path, query, headers: [["host", base.host]] }),
  );
  const signed: Array<[string, string]> = [...query, ["X-Amz-Signature", sig]];
  const search = signed.map(([k, v]) => `${k}=${uriEncode(v)}`).join("&");
  return `${base.protocol}//${base.host}${uriEncode(path, true)}?${search}`;
};

/** Why S3 refuses a presigned request: its error code, HTTP status and message. */
export interface S3Refusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  /** Further elements of S3's error document, in order. */
  readonly details?: ReadonlyArray<readonly [string, string]>;
}

export interface PresignedRequest {
  readonly method: string;
  /** The path as sent (encoded). */
  readonly rawPath: string;
  /** The query as sent, without `?`. */
  readonly rawQuery: string;
  /** The request's headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>;
}

const REQUIRED = [
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Signature",
  "X-Amz-Date",
  "X-Amz-SignedHeaders",
  "X-Amz-Expires",
] as const;

const queryError = (message: string): S3Refusal => ({
  status: 400,
  code: "AuthorizationQueryParametersError",
  message,
});

const sameHex = (a: string, b: string): boolean =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * S3's check of a presigned request, in S3's order: the query's parameters
 * (400 `AuthorizationQueryParametersError`), none at all (403 `AccessDenied`,
 * the bucket is private), the access key (403 `InvalidAccessKeyId`), the
 * expiry (403 `AccessDenied` "Request has expired"), the signature (403
 * `SignatureDoesNotMatch`). Undefined when the request may proceed.
 */
export const checkPresigned = (
  request: PresignedRequest,
  secrets: (accessKeyId: string) => string | undefined,
  now: number,
): S3Refusal | undefined => {
  const params = new URLSearchParams(request.rawQuery);
  const present = REQUIRED.filter((name) => params.has(name));
  if (present.length === 0)
    return params.has("X-Amz-Signature") || request.headers.authorization !== undefined
      ? queryError("Only query-string authentication is emulated here")
      : { status: 403, code: "AccessDenied", message: "Access Denied" };
  if (present.length < REQUIRED.length)
    return queryError(
      "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.",
    );
  const get = (name: (typeof REQUIRED)[number]) => params.get(name) ?? "";
  if (get("X-Amz-Algorithm") !== SIGV4_ALGORITHM)
    return queryError(`X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}"`);
  const expires = Number(get("X-Amz-Expires"));
  if (!/^\d+$/.test(get("X-Amz-Expires"))) return queryError("X-Amz-Expires should be a number");
  if (expires > MAX_PRESIGNED_EXPIRY_SEC)
    return queryError(
      `X-Amz-Expires must be less than a week (in seconds) that is; ${MAX_PRESIGNED_EXPIRY_SEC}`,
    );
  const signedAt = parseAmzDate(get("X-Amz-Date"));
  if (signedAt === undefined)
    return queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
  const credential = get("X-Amz-Credential");
  const [accessKeyId = "", ...scopeParts] = credential.split("/");
  const scope = scopeParts.join("/");
  if (scopeParts.length !== 4 || scopeParts[2] !== "s3" || scopeParts[3] !== "aws4_request")
    return queryError(
      `Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
    );
  if (scopeParts[0] !== get("X-Amz-Date").slice(0, 8))
    return queryError(
      `Error parsing the X-Amz-Credential parameter; incorrect date format. This date in the credential must be in the format "yyyyMMdd".`,
    );
  const secret = secrets(accessKeyId);
  if (secret === undefined)
    return {
      status: 403,
      code: "InvalidAccessKeyId",
      message: "The AWS Access Key Id you provided does not exist in our records.",
      details: [["AWSAccessKeyId", accessKeyId]],
    };
  const expiresAt = signedAt + expires * 1000;
  if (now > expiresAt)
    return {
      status: 403,
      code: "AccessDenied",
      message: "Request has expired",
      details: [
        ["X-Amz-Expires", String(expires)],
        ["Expires", new Date(expiresAt).toISOString()],
        ["ServerTime", new Date(now).toISOString()],
      ],
    };
  const signedHeaders = get("X-Amz-SignedHeaders").split(";");
  const headers: Array<[string, string]> = [];
  for (const name of signedHeaders) {
    const value = request.headers[name];
    if (value === undefined) return mismatch(accessKeyId, get("X-Amz-Signature"));
    headers.push([name, Array.isArray(value) ? value.join(",") : String(value)]);
  }
  let path: string;
  try {
    path = decodeURIComponent(request.rawPath);
  } catch {
    return mismatch(accessKeyId, get("X-Amz-Signature"));
  }
  const query = [...params.entries()].filter(([k]) => k !== "X-Amz-Signature");
  const expected = signature(
    secret,
    get("X-Amz-Date"),
    scope,
    canonicalRequest({ method: request.method, path, query, headers }),
  );
  return sameHex(expected, get("X-Amz-Signature"))
    ? undefined
    : mismatch(accessKeyId, get("X-Amz-Signature"));
};

const mismatch = (accessKeyId: string, provided: string): S3Refusal => ({
  status: 403,
  code: "SignatureDoesNotMatch",
  message:
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
  details: [
    ["AWSAccessKeyId", accessKeyId],
    ["SignatureProvided", provided],
  ],
});
