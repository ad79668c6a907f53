import * as nodeFs from "node:fs";
import { dirname } from "node:path";
import { Context, Effect, Layer } from "effect";
import { errorText, OutboxWriteFailed } from "./errors.js";
import type { Durability } from "./outbox.js";
import { encodeRecord, type OutboxFs, readRecords, writeAll } from "./segment-file.js";

/**
 * A small journal beside the outbox, for what is taken but not appended yet:
 * the samples of a publish interval longer than a second are written here as
 * they come, so that a crash loses at most what came since the last write.
 * A start reads it back; it is cleared once what it held is in the outbox.
 * Records are checksummed as the outbox's are: a torn last one (the write a
 * crash cut off) is left out.
 */
export interface SampleJournalService {
  /** Adds a record, as durable as the outbox's durability says; throws `OutboxWriteFailed`. */
  write(payload: string | Uint8Array): void;
  /** The intact records it held when it was opened, oldest first: what the last run left. */
  recovered(): ReadonlyArray<Buffer>;
  /** Empties the journal (durably); throws `OutboxWriteFailed`. */
  clear(): void;
  /** Called by the layer that opened the journal, when its scope closes. */
  close(): Promise<void>;
}

export class SampleJournal extends Context.Tag("@medusa/SampleJournal")<
  SampleJournal,
  SampleJournalService
>() {}

export interface JournalOptions {
  /** The journal file (the device keeps it in the outbox folder). */
  readonly path: string;
  /** `none`: written to the operating system (survives `kill -9`); otherwise fsynced too (survives power loss). */
  readonly durability?: Durability;
  readonly fs?: OutboxFs;
}

const NO_TOPIC = Buffer.alloc(0);

/** Opens (creates) the journal file; a torn or damaged tail is cut off first. */
export const openJournal = (options: JournalOptions): SampleJournalService => {
  const fs = options.fs ?? nodeFs;
  const sync = (options.durability ?? "batch") !== "none";
  fs.mkdirSync(dirname(options.path), { recursive: true });
  const fd = fs.openSync(options.path, "a+");
  let size = 0;
  let recovered: ReadonlyArray<Buffer> = [];
  {
    let data: Buffer;
    try {
      data = fs.readFileSync(options.path);
    } catch {
      data = Buffer.alloc(0);
    }
    const read = readRecords(data);
    recovered = read.records.map((r) => data.subarray(r.offset, r.offset + r.length));
    size = read.end;
    if (read.end < data.length) fs.ftruncateSync(fd, read.end);
  }
  let next = recovered.length + 1;
  const failed = (what: string, e: unknown) =>
    new OutboxWriteFailed({ message: `journal ${what} failed: ${errorText(e)}`, cause: e });
  return {
    write: (payload) => {
      const record = encodeRecord(next, Date.now(), NO_TOPIC, Buffer.from(payload));
      try {
        writeAll(fs, fd, record);
        if (sync) fs.fsyncSync(fd);
      } catch (e) {
        // Cut off what may have landed, so that later records stay readable.
        try {
          fs.ftruncateSync(fd, size);
        } catch {
          // The next open cuts a torn tail off anyway.
        }
        throw failed("write", e);
      }
      size += record.length;
      next++;
    },
    recovered: () => recovered,
    clear: () => {
      if (size === 0) return;
      try {
        fs.ftruncateSync(fd, 0);
        if (sync) fs.fsyncSync(fd);
      } catch (e) {
        throw failed("clear", e);
      }
      size = 0;
      next = 1;
    },
    close: async () => {
      fs.closeSync(fd);
    },
  };
};

/** The journal as a layer: opened when built, closed when the layer's scope closes. */
export const journalLayer = (options: JournalOptions): Layer.Layer<SampleJournal> =>
  Layer.scoped(
    SampleJournal,
    Effect.acquireRelease(
      Effect.sync(() => openJournal(options)),
      (journal) => Effect.promise(() => journal.close()),
    ),
  );
