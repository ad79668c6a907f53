import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { open, rename } from "node:fs/promises";
import { dirname } from "node:path";
import { Either, Schema } from "effect";
import type { ExecutionRecord } from "../jobs/execution.js";
import { AbortConfig, AbortCriteria, JobExecutionsRetryConfig } from "../jobs/job-configs.js";
import { JobExecutionStatus, StatusDetails } from "../jobs/messages.js";
import { isObject, type JsonObject } from "../shadow/json.js";
import type { JobRecord } from "./jobs-service.js";

/** Every job and execution of the emulated Jobs service. */
export interface JobsSnapshot {
  readonly jobs: ReadonlyArray<JobRecord>;
  readonly executions: ReadonlyArray<ExecutionRecord>;
}

/** Where the emulated Jobs service keeps its jobs. */
export interface JobsPersistence {
  /** The state as last saved; undefined when nothing was saved yet. */
  load(): JobsSnapshot | undefined;
  /** Saves the whole state; resolves once it is written (the service answers only then). */
  save(snapshot: JobsSnapshot): Promise<void>;
  close(): Promise<void>;
}

/** Jobs kept in memory only: gone when the process ends. */
export const memoryJobsPersistence = (): JobsPersistence => ({
  load: () => undefined,
  save: async () => {},
  close: async () => {},
});

const optional = <A, I>(s: Schema.Schema<A, I>) => Schema.optionalWith(s, { exact: true });
const Millis = Schema.Number.pipe(Schema.int(), Schema.nonNegative());
const Count = Schema.Number.pipe(Schema.int(), Schema.nonNegative());
const Document: Schema.Schema<JsonObject> = Schema.declare(isObject, {
  identifier: "JsonObject",
  description: "a JSON object",
});

const JobLine = Schema.Struct({
  jobId: Schema.String,
  targets: Schema.Array(Schema.String),
  document: Document,
  description: optional(Schema.String),
  status: Schema.Literal("IN_PROGRESS", "CANCELED", "COMPLETED"),
  createdAt: Millis,
  lastUpdatedAt: Millis,
  completedAt: optional(Millis),
  inProgressTimeoutInMinutes: optional(Count),
  presignedUrlExpiresInSec: optional(Count),
  forceCanceled: optional(Schema.Boolean),
  comment: optional(Schema.String),
  reasonCode: optional(Schema.String),
  jobExecutionsRetryConfig: optional(JobExecutionsRetryConfig),
  abortConfig: optional(AbortConfig),
  abortedBy: optional(AbortCriteria),
});
const ExecutionLine = Schema.Struct({
  jobId: Schema.String,
  thingName: Schema.String,
  status: JobExecutionStatus,
  statusDetails: optional(StatusDetails),
  queuedAt: Millis,
  startedAt: optional(Millis),
  lastUpdatedAt: Millis,
  versionNumber: Count,
  executionNumber: Count,
  retryAttempt: optional(Count),
  stepTimeoutAt: optional(Millis),
  inProgressTimeoutAt: optional(Millis),
});
/** The file: one JSON document, format version 1. */
const File = Schema.parseJson(
  Schema.Struct({
    format: Schema.Literal(1),
    jobs: Schema.Array(JobLine),
    executions: Schema.Array(ExecutionLine),
  }),
);
const decodeFile = Schema.decodeUnknownEither(File);

export interface FileJobsPersistenceOptions {
  /** Flush every write to the disk before answering (default). */
  readonly fsync?: boolean;
  readonly log?: (entry: Record<string, unknown>) => void;
}

/**
 * Jobs in one JSON file, rewritten whole (a new file renamed over the old
 * one, so a crash leaves the old or the new, never half of one) with the
 * state of the moment; the saves of one turn of the event loop go out as
 * one write. A file that cannot be read is set aside (`.unreadable`) and the
 * service starts empty, saying so in the log.
 */
export const fileJobsPersistence = (
  path: string,
  options: FileJobsPersistenceOptions = {},
): JobsPersistence => {
  const log = options.log ?? (() => {});
  const sync = options.fsync ?? true;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let loaded: JobsSnapshot | undefined;
  try {
    const decoded = decodeFile(readFileSync(path, "utf8"));
    if (Either.isRight(decoded)) loaded = decoded.right as JobsSnapshot;
    else {
      renameSync(path, `${path}.unreadable`);
      log({ level: "error", msg: "the jobs file cannot be read; set aside", file: path });
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const text = (s: JobsSnapshot) =>
    JSON.stringify({ format: 1, jobs: s.jobs, executions: s.executions });
  if (loaded === undefined) {
    const fd = openSync(path, "w", 0o600);
    try {
      writeSync(fd, text({ jobs: [], executions: [] }));
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  let latest: JobsSnapshot | undefined;
  let waiting: Array<{ done: () => void; failed: (e: unknown) => void }> = [];
  let writing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    while (latest !== undefined) {
      const snapshot = latest;
      const batch = waiting;
      latest = undefined;
      waiting = [];
      try {
        const tmp = `${path}.tmp`;
        const handle = await open(tmp, "w", 0o600);
        try {
          await handle.writeFile(text(snapshot));
          if (sync) await handle.datasync();
        } finally {
          await handle.close();
        }
        await rename(tmp, path);
        for (const b of batch) b.done();
      } catch (e) {
        for (const b of batch) b.failed(e);
      }
    }
    writing = undefined;
  };
  return {
    load: () => loaded,
    save: (snapshot) => {
      latest = snapshot;
      return new Promise<void>((done, failed) => {
        waiting.push({ done, failed });
        writing ??= new Promise<void>((r) => setImmediate(r)).then(flush);
      });
    },
    close: async () => {
      await writing;
    },
  };
};
