import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import { dirname, join, resolve, sep } from "node:path";
import { s3ObjectOf } from "../jobs/document.js";
import { checkPresigned, presignGetUrl, type S3Credentials, type S3Refusal } from "./presign.js";

/**
 * S3 buckets for presigned GETs, on 127.0.0.1 over TLS: each bucket a folder
 * under `root`, each object a file of it, served path style
 * (`https://127.0.0.1:{port}/{bucket}/{key}`) to a request whose query
 * carries a valid SigV4 presignature made with `credentials`, and refused
 * otherwise with S3's status, error code and XML error document. The local
 * stack's stand-in for the agent-bundle bucket; not a general S3 (no PUT,
 * no listing, no ranges: objects are put with `putObject`).
 */
export interface BucketServerOptions {
  /** The folder that holds the buckets. */
  readonly root: string;
  /** The server's certificate and key (the local stack's development CA signs them). */
  readonly tls: { readonly cert: string; readonly key: string };
  /** The one key pair presigned URLs are signed with (the Jobs service's role, locally). */
  readonly credentials: S3Credentials;
  readonly region: string;
  /** Buckets made at start when missing. */
  readonly buckets?: ReadonlyArray<string>;
  readonly port?: number;
  /** The server's clock (epoch ms) for expiry; the signer's is `presign`'s `now`. */
  readonly now?: () => number;
  readonly log?: (entry: Record<string, unknown>) => void;
  /** Awaited before an object is served to an accepted GET (measurements, or a test's observation point). */
  readonly onServe?: (object: { readonly bucket: string; readonly key: string }) => unknown;
}

export interface BucketServer {
  /** `https://127.0.0.1:{port}`. */
  readonly url: string;
  readonly port: number;
  /** A presigned GET of an object of one of the buckets, valid `expiresInSec` from now. */
  presign(bucket: string, key: string, expiresInSec: number): string;
  /**
   * The Jobs service's resolver: an S3 URL (`https://s3.amazonaws.com/{bucket}/{key}`,
   * path or virtual-hosted style) presigned on this server.
   */
  resolvePresignedUrl(s3Url: string, context: { readonly expiresInSec: number }): string;
  /** Puts an object (a file written whole); its ETag (MD5, hex) and size. */
  putObject(bucket: string, key: string, bytes: Uint8Array): { etag: string; size: number };
  stats(): { readonly served: number; readonly refused: Readonly<Record<string, number>> };
  close(): Promise<void>;
}

/** S3's rules for a bucket name (3-63 of lower-case letters, digits, `.` and `-`). */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** The file of an object, or undefined when its key cannot name one (empty, `..`, NUL). */
export const objectPath = (root: string, bucket: string, key: string): string | undefined => {
  if (!BUCKET_NAME.test(bucket) || key === "" || key.length > 1024 || key.includes("\0"))
    return undefined;
  const segments = key.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) return undefined;
  const folder = resolve(root, bucket);
  const file = resolve(folder, ...segments);
  return file.startsWith(`${folder}${sep}`) ? file : undefined;
};

const xmlText = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** S3's error document. */
export const errorDocument = (refusal: S3Refusal, requestId: string): string =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${refusal.code}</Code><Message>${xmlText(refusal.message)}</Message>${(
    refusal.details ?? []
  )
    .map(([k, v]) => `<${k}>${xmlText(v)}</${k}>`)
    .join("")}<RequestId>${requestId}</RequestId><HostId>${requestId}</HostId></Error>`;

export const startBucketServer = async (options: BucketServerOptions): Promise<BucketServer> => {
  const now = options.now ?? Date.now;
  const log = options.log ?? (() => {});
  mkdirSync(options.root, { recursive: true, mode: 0o700 });
  for (const bucket of options.buckets ?? []) {
    if (!BUCKET_NAME.test(bucket)) throw new RangeError(`${bucket} is not a bucket name`);
    mkdirSync(join(options.root, bucket), { recursive: true, mode: 0o700 });
  }
  const counts = { served: 0, refused: {} as Record<string, number> };
  const secrets = (id: string) =>
    id === options.credentials.accessKeyId ? options.credentials.secretAccessKey : undefined;

  const server: Server = createServer(
    { cert: options.tls.cert, key: options.tls.key },
    (req, res) => {
      const requestId = randomBytes(8).toString("hex").toUpperCase();
      const refuse = (refusal: S3Refusal, extra: ReadonlyArray<readonly [string, string]> = []) => {
        counts.refused[refusal.code] = (counts.refused[refusal.code] ?? 0) + 1;
        log({ level: "info", msg: "refused", code: refusal.code, path: rawPath });
        const body = errorDocument(
          { ...refusal, details: [...(refusal.details ?? []), ...extra] },
          requestId,
        );
        res.writeHead(refusal.status, {
          "content-type": "application/xml",
          "x-amz-request-id": requestId,
          ...(req.method === "HEAD" ? {} : { "content-length": Buffer.byteLength(body) }),
        });
        res.end(req.method === "HEAD" ? undefined : body);
      };
      const target = req.url ?? "/";
      const q = target.indexOf("?");
      const rawPath = q < 0 ? target : target.slice(0, q);
      const rawQuery = q < 0 ? "" : target.slice(q + 1);
      if (req.method !== "GET" && req.method !== "HEAD")
        return refuse({
          status: 405,
          code: "MethodNotAllowed",
          message: "The specified method is not allowed against this resource.",
        });
      const refusal = checkPresigned(
        { method: req.method, rawPath, rawQuery, headers: req.headers },
        secrets,
        now(),
      );
      if (refusal) return refuse(refusal);
      let path: string;
      try {
        path = decodeURIComponent(rawPath).slice(1);
      } catch {
        return refuse({
          status: 400,
          code: "InvalidURI",
          message: "Couldn't parse the specified URI.",
        });
      }
      const slash = path.indexOf("/");
      const bucket = slash < 0 ? path : path.slice(0, slash);
      const key = slash < 0 ? "" : path.slice(slash + 1);
      if (!BUCKET_NAME.test(bucket) || !existsSync(join(options.root, bucket)))
        return refuse(
          { status: 404, code: "NoSuchBucket", message: "The specified bucket does not exist" },
          [["BucketName", bucket]],
        );
      const file = objectPath(options.root, bucket, key);
      let bytes: Buffer | undefined;
      let modified = 0;
      try {
        if (file !== undefined && statSync(file).isFile()) {
          bytes = readFileSync(file);
          modified = statSync(file).mtimeMs;
        }
      } catch {
        bytes = undefined;
      }
      if (bytes === undefined)
        return refuse(
          { status: 404, code: "NoSuchKey", message: "The specified key does not exist." },
          [["Key", key]],
        );
      const found = bytes;
      const serve = () => {
        counts.served++;
        res.writeHead(200, {
          "content-type": "application/octet-stream",
          "content-length": found.length,
          etag: `"${createHash("md5").update(found).digest("hex")}"`,
          "last-modified": new Date(modified).toUTCString(),
          "accept-ranges": "none",
          "x-amz-request-id": requestId,
        });
        res.end(req.method === "HEAD" ? undefined : found);
      };
      if (options.onServe === undefined) return serve();
      Promise.resolve()
        .then(() => options.onServe?.({ bucket, key }))
        .then(serve, (e: unknown) =>
          refuse({ status: 500, code: "InternalError", message: `onServe failed: ${String(e)}` }),
        );
    },
  );
  await new Promise<void>((ready, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", fail);
      ready();
    });
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const url = `https://127.0.0.1:${port}`;

  const presign = (bucket: string, key: string, expiresInSec: number) =>
    presignGetUrl({
      endpoint: url,
      path: `/${bucket}/${key}`,
      expiresInSec,
      credentials: options.credentials,
      region: options.region,
      now: Date.now(),
    });

  return {
    url,
    port,
    presign,
    resolvePresignedUrl: (s3Url, { expiresInSec }) => {
      const object = s3ObjectOf(s3Url);
      if (object) return presign(object.bucket, object.key, expiresInSec);
      // Not an S3 object URL: its path, presigned, which S3 answers NoSuchBucket or NoSuchKey.
      return presignGetUrl({
        endpoint: url,
        path: safeDecode(new URL(s3Url).pathname),
        expiresInSec,
        credentials: options.credentials,
        region: options.region,
        now: Date.now(),
      });
    },
    putObject: (bucket, key, bytes) => {
      const file = objectPath(options.root, bucket, key);
      if (file === undefined) throw new RangeError(`${bucket}/${key} cannot name an object`);
      return putObjectFile(file, bytes);
    },
    stats: () => ({ served: counts.served, refused: { ...counts.refused } }),
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections?.();
      }),
  };
};

/** Writes an object's file whole (a temporary file renamed over it). */
export const putObjectFile = (file: string, bytes: Uint8Array): { etag: string; size: number } => {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes, { mode: 0o600 });
  renameSync(tmp, file);
  return { etag: createHash("md5").update(bytes).digest("hex"), size: bytes.length };
};

const safeDecode = (path: string): string => {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
};
