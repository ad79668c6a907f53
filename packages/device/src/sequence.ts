import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from "node:fs";
import { dirname } from "node:path";
import { Context, Effect, Either, Layer, Schema } from "effect";

/**
 * Where the next sequence number survives a restart, so that numbers are
 * never reused for different samples (a crash leaves a gap instead).
 */
export interface SequenceStoreService {
  load(): number;
  save(next: number): void;
}

export class SequenceStore extends Context.Tag("@medusa/SequenceStore")<
  SequenceStore,
  SequenceStoreService
>() {}

/** The sequence file cannot be trusted: starting anyway could give sent numbers to other samples. */
export class SequenceFileError extends Schema.TaggedError<SequenceFileError>()(
  "SequenceFileError",
  { path: Schema.String, problem: Schema.String },
) {
  override get message(): string {
    return `${this.path}: ${this.problem}. Not starting: a sequence number that was sent could be given to another sample. Write a number above the highest sequence the cloud has from this device into the file, or delete it to start again from 0`;
  }
}

/** The next sequence number the file holds; no file is a first start (0). */
const readSequenceFile = (path: string): Either.Either<number, SequenceFileError> => {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return Either.right(0);
    return Either.left(
      new SequenceFileError({
        path,
        problem: `cannot read the next sequence number: ${e instanceof Error ? e.message : String(e)}`,
      }),
    );
  }
  const trimmed = text.trim();
  const n = /^\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  return Number.isSafeInteger(n)
    ? Either.right(n)
    : Either.left(
        new SequenceFileError({
          path,
          problem: `holds ${JSON.stringify(trimmed.slice(0, 40))}, not the next sequence number`,
        }),
      );
};

/**
 * The next sequence number, in a file beside the outbox, replaced atomically.
 * No file is a first start (0); a file that cannot be read or holds no
 * number is a `SequenceFileError` (thrown by `load`), never a silent 0.
 */
export const fileSequenceStore = (path: string): SequenceStoreService => ({
  load: () => Either.getOrThrowWith(readSequenceFile(path), (e) => e),
  // Saved before a batch is appended, and synced: after a power loss the file
  // holds a number at least as high as any sample that reached the outbox.
  save: (next) => {
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(`${path}.tmp`, "w");
    writeSync(fd, `${next}\n`);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(`${path}.tmp`, path);
    const dir = openSync(dirname(path), "r");
    fsyncSync(dir);
    closeSync(dir);
  },
});

/**
 * The sequence file as a layer: read when the layer is built, so that a file
 * that cannot be trusted stops the start before anything else is opened.
 */
export const sequenceFileLayer = (path: string): Layer.Layer<SequenceStore, SequenceFileError> =>
  Layer.effect(
    SequenceStore,
    Effect.map(
      Effect.suspend(() => readSequenceFile(path)),
      (first) => ({ load: () => first, save: fileSequenceStore(path).save }),
    ),
  );
