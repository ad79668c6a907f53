// agent.update on the device: the download, its check, the atomic swap of the one-file bundle,
// and the pending-update marker that the launcher (`launcher.ts`) and the next agent read at start.
// Node's own modules only: the launcher bundles this file and must stay small and stable.
import { createHash } from "node:crypto";
import {
  closeSync,
  copyFileSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs";
import { request } from "node:https";
import { dirname, join } from "node:path";
import { rootCertificates } from "node:tls";

/** The marker beside the bundle: an update waiting to be confirmed, or its outcome. */
export interface UpdateMarker {
  readonly jobId: string;
  readonly from: string;
  readonly to: string;
  /**
   * `pending`: swapped, the new bundle has not connected yet; `confirmed`: it
   * did; `rolled-back`: the launcher put the previous bundle back (`reason`).
   */
  readonly state: "pending" | "confirmed" | "rolled-back";
  /** Epoch ms by which the new bundle must connect. */
  readonly deadline: number;
  /** Starts of the new bundle so far (the launcher counts them). */
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly reason?: string;
}

/** Where the marker of `bundle` is: `update-pending.json` in its folder. */
export const markerPath = (bundle: string): string => join(dirname(bundle), "update-pending.json");
/** The bundle kept for a rollback. */
export const previousPath = (bundle: string): string => `${bundle}.previous`;

/** Writes a file whole: a temporary file, flushed, renamed over the old one, the folder flushed. */
export const writeAtomically = (path: string, content: string | Uint8Array, mode = 0o644): void => {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, "w", mode);
  try {
    if (typeof content === "string") writeSync(fd, content);
    else writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  syncFolder(dirname(path));
};

const syncFolder = (dir: string) => {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Not every file system lets a folder be flushed; the rename is done either way.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
};

/** The marker, or undefined when there is none or it cannot be read (never throws). */
export const readMarker = (bundle: string): UpdateMarker | undefined => {
  try {
    const m = JSON.parse(readFileSync(markerPath(bundle), "utf8")) as Partial<UpdateMarker>;
    if (
      typeof m.jobId !== "string" ||
      typeof m.from !== "string" ||
      typeof m.to !== "string" ||
      (m.state !== "pending" && m.state !== "confirmed" && m.state !== "rolled-back") ||
      typeof m.deadline !== "number" ||
      typeof m.attempts !== "number" ||
      typeof m.maxAttempts !== "number"
    )
      return undefined;
    return m as UpdateMarker;
  } catch {
    return undefined;
  }
};

export const writeMarker = (bundle: string, marker: UpdateMarker): void =>
  writeAtomically(markerPath(bundle), `${JSON.stringify(marker)}\n`, 0o600);

export const removeMarker = (bundle: string): void => rmSync(markerPath(bundle), { force: true });

/** Puts the previous bundle back (one rename) and records why in the marker. */
export const rollBack = (bundle: string, marker: UpdateMarker, reason: string): UpdateMarker => {
  renameSync(previousPath(bundle), bundle);
  syncFolder(dirname(bundle));
  const next: UpdateMarker = { ...marker, state: "rolled-back", reason };
  writeMarker(bundle, next);
  return next;
};

/** A download that did not give the bundle, and why. */
export class DownloadFailed extends Error {
  override readonly name = "DownloadFailed";
}

export interface DownloadOptions {
  /** A CA file trusted besides the system's (the local stack's development CA). */
  readonly caFile: string | null;
  readonly maxBytes: number;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
}

/**
 * GETs an https URL (a presigned S3 URL) into memory: the system's CAs (and
 * `caFile`) verify the server, no redirects are followed, at most `maxBytes`
 * bytes, all of it within `timeoutMs`.
 */
export const downloadBundle = (url: string, options: DownloadOptions): Promise<Buffer> =>
  new Promise<Buffer>((resolve, reject) => {
    const target = new URL(url);
    if (target.protocol !== "https:") return reject(new DownloadFailed("not an https URL"));
    let ca: Array<string>;
    try {
      ca = [
        ...rootCertificates,
        ...(options.caFile === null ? [] : [readFileSync(options.caFile, "utf8")]),
      ];
    } catch (e) {
      return reject(new DownloadFailed(`cannot read the CA file: ${(e as Error).message}`));
    }
    const where = `${target.host}${target.pathname}`;
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(new DownloadFailed(`download from ${where} failed: ${why}`));
    };
    const timer = setTimeout(
      () => fail(`not done within ${options.timeoutMs} ms`),
      options.timeoutMs,
    );
    const onAbort = () => fail(`aborted: ${String(options.signal?.reason ?? "")}`);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const req = request(target, { method: "GET", ca, timeout: options.timeoutMs }, (res) => {
      const status = res.statusCode ?? 0;
      if (status !== 200) {
        // S3 says why in an XML error document (`<Code>`, `<Message>`): kept in the reason.
        const head: Array<Buffer> = [];
        let kept = 0;
        res.on("data", (chunk: Buffer) => {
          if (kept < 4096) head.push(chunk);
          kept += chunk.length;
        });
        res.on("error", () => fail(`HTTP ${status}`));
        res.on("end", () =>
          fail(`HTTP ${status}${s3ErrorOf(Buffer.concat(head).toString("utf8"))}`),
        );
        return;
      }
      const declared = Number(res.headers["content-length"] ?? Number.NaN);
      if (declared > options.maxBytes)
        return fail(`${declared} bytes, over the limit of ${options.maxBytes}`);
      const chunks: Array<Buffer> = [];
      let size = 0;
      res.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > options.maxBytes) return fail(`over the limit of ${options.maxBytes} bytes`);
        chunks.push(chunk);
      });
      res.on("error", (e) => fail(e.message));
      res.on("end", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        resolve(Buffer.concat(chunks));
      });
    });
    req.on("error", (e) => fail(`${e.message}${"code" in e ? ` (${String(e.code)})` : ""}`));
    req.on("timeout", () => fail("the server stopped answering"));
    req.end();
  });

/** ` AccessDenied: Request has expired` from S3's error document, or nothing. */
const s3ErrorOf = (xml: string): string => {
  const code = /<Code>([^<]{1,100})<\/Code>/.exec(xml)?.[1];
  const message = /<Message>([^<]{1,300})<\/Message>/.exec(xml)?.[1];
  return code === undefined ? "" : ` ${code}${message === undefined ? "" : `: ${message}`}`;
};

export const sha256Hex = (bytes: Uint8Array): string =>
  createHash("sha256").update(bytes).digest("hex");

/**
 * Swaps in a new bundle: the new file written beside the bundle (flushed),
 * the running one copied to `.previous` (flushed), the marker written
 * (pending, with its deadline), then one rename puts the new bundle in
 * place. A crash anywhere leaves either bundle whole, and the marker says
 * what is under way.
 */
export const installBundle = (
  bundle: string,
  bytes: Uint8Array,
  marker: Omit<UpdateMarker, "state" | "attempts">,
): void => {
  const next = `${bundle}.new`;
  const fd = openSync(next, "w", 0o755);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  const previousTmp = `${previousPath(bundle)}.tmp`;
  copyFileSync(bundle, previousTmp);
  const pfd = openSync(previousTmp, "r+");
  try {
    fsyncSync(pfd);
  } finally {
    closeSync(pfd);
  }
  renameSync(previousTmp, previousPath(bundle));
  writeMarker(bundle, { ...marker, state: "pending", attempts: 0 });
  renameSync(next, bundle);
  syncFolder(dirname(bundle));
};
