import {
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { dirname } from "node:path";
import { Either, Schema } from "effect";
import type { ShadowRecord } from "../shadow/document.js";
import { isObject, type JsonObject } from "../shadow/json.js";
import type { ShadowAddress } from "../shadow/topics.js";

/** Where the emulated shadow service keeps its shadows. */
export interface ShadowPersistence {
  /** Every shadow as last saved (deleted ones too: they keep their version). */
  load(): ReadonlyArray<readonly [ShadowAddress, ShadowRecord]>;
  /** Saves one shadow; resolves once it is written (the service answers only then). */
  save(address: ShadowAddress, record: ShadowRecord): Promise<void>;
  close(): Promise<void>;
}

/** Shadows kept in memory only: gone when the process ends. */
export const memoryShadowPersistence = (): ShadowPersistence => ({
  load: () => [],
  save: async () => {},
  close: async () => {},
});

const JsonSection = Schema.optionalWith(
  Schema.Unknown.pipe(Schema.filter((u) => isObject(u) || "an object")),
  { exact: true },
);
/** One line of the file: a shadow as saved. */
const Line = Schema.parseJson(
  Schema.Struct({
    thing: Schema.String,
    name: Schema.NullOr(Schema.String),
    version: Schema.Number.pipe(Schema.int(), Schema.nonNegative()),
    deletedAt: Schema.optionalWith(Schema.Number, { exact: true }),
    state: Schema.Struct({ desired: JsonSection, reported: JsonSection }),
    metadata: Schema.Struct({ desired: JsonSection, reported: JsonSection }),
  }),
);
const decodeLine = Schema.decodeUnknownEither(Line);

const keyOf = (a: ShadowAddress) =>
  a.shadowName === undefined ? a.thing : `${a.thing}/${a.shadowName}`;

const lineOf = (a: ShadowAddress, r: ShadowRecord) =>
  `${JSON.stringify({
    thing: a.thing,
    name: a.shadowName ?? null,
    version: r.version,
    ...(r.deletedAt !== undefined ? { deletedAt: r.deletedAt } : {}),
    state: r.state,
    metadata: r.metadata,
  })}\n`;

export interface FileShadowPersistenceOptions {
  /** Flush every write to the disk before answering (default): a power cut loses nothing answered. */
  readonly fsync?: boolean;
  readonly log?: (entry: Record<string, unknown>) => void;
}

/**
 * Shadows in one file of JSON lines, one line per saved shadow, the last
 * line of a shadow winning: a save appends, and the writes of one moment go
 * out together, in one write to the file kept open (with `fsync`, a write of
 * synchronous data: on the disk when it returns). The file is rewritten with one
 * line per shadow when it opens and whenever it has grown to more than twice
 * that. A line a crash cut off is skipped when the file is read.
 */
export const fileShadowPersistence = (
  path: string,
  options: FileShadowPersistenceOptions = {},
): ShadowPersistence => {
  const log = options.log ?? (() => {});
  const sync = options.fsync ?? true;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const shadows = new Map<string, readonly [ShadowAddress, ShadowRecord]>();
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  let lines = 0;
  for (const raw of text.split("\n")) {
    if (raw.trim() === "") continue;
    const decoded = decodeLine(raw);
    if (Either.isLeft(decoded)) {
      log({ level: "warn", msg: "a shadow file line that cannot be read was skipped", file: path });
      continue;
    }
    const l = decoded.right;
    const address = { thing: l.thing, ...(l.name !== null ? { shadowName: l.name } : {}) };
    const section = (s: { desired?: unknown; reported?: unknown }) => ({
      ...(s.desired !== undefined ? { desired: s.desired as JsonObject } : {}),
      ...(s.reported !== undefined ? { reported: s.reported as JsonObject } : {}),
    });
    shadows.set(keyOf(address), [
      address,
      {
        version: l.version,
        ...(l.deletedAt !== undefined ? { deletedAt: l.deletedAt } : {}),
        state: section(l.state),
        metadata: section(l.metadata),
      },
    ]);
    lines++;
  }

  /** Rewrites the file with one line per shadow: a new file, then renamed over the old one. */
  const compact = () => {
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, "w", 0o600);
    try {
      const body = [...shadows.values()].map(([a, r]) => lineOf(a, r)).join("");
      writeSync(fd, body);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    lines = shadows.size;
  };
  if (lines !== shadows.size || text.length === 0) compact();

  // The file stays open for appending between saves. With `fsync`, it is opened for
  // synchronous data writes (O_DSYNC): a write returns once its lines are on the disk,
  // one trip through libuv's pool where an open, a write, a datasync and a close were
  // four (each waiting its turn of a busy event loop).
  let appending: FileHandle | undefined;
  const appendFlags =
    constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | (sync ? constants.O_DSYNC : 0);
  const closeAppending = async () => {
    const handle = appending;
    appending = undefined;
    await handle?.close();
  };
  let pending: Array<{ line: string; done: () => void; failed: (e: unknown) => void }> = [];
  let writing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        if (lines > 2 * shadows.size + 1_000) {
          // The open handle is the old file's: the next append opens the new one.
          await closeAppending();
          compact();
        } else {
          appending ??= await open(path, appendFlags, 0o600);
          await appending.write(batch.map((b) => b.line).join(""));
          lines += batch.length;
        }
        for (const b of batch) b.done();
      } catch (e) {
        // A handle that failed a write is not trusted with the next one.
        await closeAppending().catch(() => {});
        for (const b of batch) b.failed(e);
      }
    }
    writing = undefined;
  };

  return {
    load: () => [...shadows.values()],
    save: (address, record) => {
      shadows.set(keyOf(address), [address, record]);
      return new Promise<void>((done, failed) => {
        pending.push({ line: lineOf(address, record), done, failed });
        // The writes of one turn of the event loop go out together.
        writing ??= new Promise<void>((r) => setImmediate(r)).then(flush);
      });
    },
    close: async () => {
      await writing;
      await closeAppending();
    },
  };
};
