import { join } from "node:path";
import { type OutboxFs, writeAll } from "./segment-file.js";

/** What has left the outbox: every id below `head`, and the ids in `acked` (acknowledged or dropped out of order). */
export interface Checkpoint {
  readonly nextId: number;
  readonly head: number;
  readonly acked: ReadonlyArray<number>;
  readonly drops: number;
}

const CHECKPOINT = "checkpoint.json";

/** The last checkpoint written, or a fresh outbox's. */
export const readCheckpoint = (fs: OutboxFs, dir: string): Checkpoint => {
  const fresh: Checkpoint = { nextId: 1, head: 1, acked: [], drops: 0 };
  try {
    return { ...fresh, ...JSON.parse(fs.readFileSync(join(dir, CHECKPOINT)).toString("utf8")) };
  } catch {
    // No checkpoint yet (or a torn temporary one, which rename never exposed).
    return fresh;
  }
};

/**
 * Replaces the checkpoint atomically (a temporary file renamed over it); throws
 * what failed. `sync`: the temporary file is fsynced before the rename, so the
 * checkpoint survives power loss; without it the rename alone makes it survive
 * `kill -9` (the outbox's `none`, whose entries are not fsynced either).
 */
export const writeCheckpoint = (
  fs: OutboxFs,
  dir: string,
  checkpoint: Checkpoint,
  options: { readonly sync: boolean },
): void => {
  const tmp = join(dir, `${CHECKPOINT}.tmp`);
  try {
    const fd = fs.openSync(tmp, "w");
    try {
      writeAll(fs, fd, Buffer.from(JSON.stringify(checkpoint)));
      if (options.sync) fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, join(dir, CHECKPOINT));
  } catch (e) {
    try {
      fs.unlinkSync(tmp); // a half-written one only takes space on a full disk
    } catch {
      // Not there, or the disk is failing: the next checkpoint replaces it.
    }
    throw e;
  }
};
