import * as nodeFs from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";

/**
 * How hard an append is made durable before it resolves:
 * - `fsync`: every append is fsynced (survives power loss; slowest on SD cards);
 * - `batch`: appends are fsynced together at most every `batchMs` and resolve
 *   after their fsync (survives power loss; one fsync per burst);
 * - `none`: written to the OS only (survives `kill -9`, not power loss).
 */
export type Durability = "fsync" | "batch" | "none";

export interface OutboxEntry {
  readonly id: number;
  readonly topic: string;
  readonly payload: Buffer;
  readonly appendedAt: number;
}

/**
 * An append that did not land (disk full, I/O error). Nothing of it stays in
 * the outbox: it is never handed out by `pending()`, so the caller may append
 * the same data again without it being sent twice.
 */
export class OutboxWriteFailed extends Error {
  override readonly name = "OutboxWriteFailed";
}

export class OutboxClosed extends Error {
  override readonly name = "OutboxClosed";
}

/**
 * Work the outbox does on its own failed; nothing an append reported as stored
 * is lost, and the outbox stays usable:
 * - `checkpoint`: acks and drops are not on disk yet (tried again with backoff;
 *   after a crash until then, those entries would be sent again);
 * - `roll`: no new segment file could be created (the current one keeps growing;
 *   tried again at the next append);
 * - `rollback`: a failed append could not be cut off its segment (its id is
 *   recorded as gone in the checkpoint, and the next append starts a new segment);
 * - `cleanup`: a fully acknowledged segment could not be deleted (tried again later);
 * - `close`: a file could not be closed.
 */
export class OutboxMaintenanceFailed extends Error {
  override readonly name = "OutboxMaintenanceFailed";
  constructor(
    readonly operation: "checkpoint" | "roll" | "rollback" | "cleanup" | "close",
    cause: unknown,
  ) {
    super(`outbox ${operation} failed: ${errorText(cause)}`, { cause });
  }
}

export type OutboxError = OutboxWriteFailed | OutboxMaintenanceFailed;

export interface OutboxStats {
  /** Entries waiting for PUBACK. */
  readonly depth: number;
  /** Their payload bytes. */
  readonly bytes: number;
  /** Entries dropped (oldest first) to stay within `maxBytes`, ever. */
  readonly drops: number;
  readonly appended: number;
  readonly acked: number;
  /** Damaged records found and cut off when the outbox was opened. */
  readonly repaired: number;
  /** The most recent failure since the outbox was opened (never cleared), or null. */
  readonly lastError: OutboxError | null;
}

/**
 * The file-system calls the outbox makes, so that tests can make them fail
 * (a full disk, a short write) without root and a tiny tmpfs. `node:fs` fits.
 */
export interface OutboxFs {
  openSync(path: string, flags: string): number;
  closeSync(fd: number): void;
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number;
  readSync(
    fd: number,
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: number,
  ): number;
  fsyncSync(fd: number): void;
  ftruncateSync(fd: number, length: number): void;
  readFileSync(path: string): Buffer;
  readdirSync(path: string): Array<string>;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  mkdirSync(path: string, options: { recursive: true }): unknown;
}

export interface OutboxOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly durability?: Durability;
  readonly batchMs?: number;
  /** A segment file is rolled over at this size. */
  readonly segmentBytes?: number;
  readonly now?: () => number;
  /**
   * Called with every failure, also those an append rejects with, and those of
   * work done on a timer (checkpoint, roll, cleanup), which nothing else sees.
   * Must not throw (what it throws is ignored).
   */
  readonly onError?: (error: OutboxError) => void;
  readonly fs?: OutboxFs;
}

interface Located {
  readonly id: number;
  readonly topic: string;
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
  readonly appendedAt: number;
}

/** Batch mode: written, waiting for the group fsync. */
interface Unsynced {
  readonly located: Located;
  /** Where its record starts in the current segment. */
  readonly start: number;
  readonly resolve: () => void;
  readonly reject: (error: OutboxWriteFailed) => void;
}

// Record: [u32 body length][u32 crc32 of body][body]; body: [f64 id][f64 appendedAt][u16 topic length][topic][payload].
const HEADER = 8;
const FIXED = 18;
const CHECKPOINT = "checkpoint.json";
const CHECKPOINT_MS = 200;
const CHECKPOINT_RETRY_MAX_MS = 30_000;

const segmentName = (n: number) => `segment-${String(n).padStart(10, "0")}.log`;

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** `writeSync` may write less than asked (a disk filling up): go on until all of it is written or a call fails. */
const writeAll = (fs: OutboxFs, fd: number, data: Uint8Array) => {
  let done = 0;
  while (done < data.length) {
    const n = fs.writeSync(fd, data, done, data.length - done);
    if (!(n > 0)) throw new Error(`short write: ${done} of ${data.length} bytes`);
    done += n;
  }
};

/**
 * A durable on-disk outbox: entries are appended before they are published
 * and removed after PUBACK, in order. Segment files of checksummed records
 * hold the entries; an atomically replaced checkpoint holds what has been
 * acknowledged or dropped. Only an index is kept in memory.
 *
 * An append either lands whole (and resolves once as durable as configured)
 * or rejects with `OutboxWriteFailed` and leaves nothing behind: its bytes are
 * cut off the segment again, so later records and recovery stay aligned. No
 * error escapes from the outbox's timers.
 */
export class Outbox {
  private readonly index: Array<Located> = [];
  private unsynced: Array<Unsynced> = [];
  private readonly acked = new Set<number>();
  private nextId = 1;
  private drops = 0;
  private appended = 0;
  private ackedCount = 0;
  private repaired = 0;
  private bytes = 0;
  private segment = 0;
  private segmentSize = 0;
  /** A failed append could not be cut off: the segment's end is unknown, the next append starts a new one. */
  private segmentDamaged = false;
  private fd = -1;
  private readonly readFds = new Map<number, number>();
  private syncTimer: NodeJS.Timeout | undefined;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointFailures = 0;
  private lastError: OutboxError | null = null;
  private closed = false;
  private readonly durability: Durability;
  private readonly segmentBytes: number;
  private readonly now: () => number;
  private readonly fs: OutboxFs;

  private constructor(private readonly options: OutboxOptions) {
    this.durability = options.durability ?? "batch";
    this.segmentBytes = options.segmentBytes ?? 4 * 1024 * 1024;
    this.now = options.now ?? Date.now;
    this.fs = options.fs ?? nodeFs;
  }

  static async open(options: OutboxOptions): Promise<Outbox> {
    const box = new Outbox(options);
    box.recover();
    return box;
  }

  /**
   * Appends an entry; resolves once it is as durable as configured, or
   * rejects with `OutboxWriteFailed` (nothing of it kept) or `OutboxClosed`.
   */
  append(payload: string | Uint8Array, topic: string): Promise<OutboxEntry> {
    if (this.closed) return Promise.reject(new OutboxClosed("outbox is closed"));
    if (this.segmentDamaged || this.segmentSize >= this.segmentBytes) {
      if (!this.roll() && this.segmentDamaged)
        return Promise.reject(
          this.fail(
            new OutboxWriteFailed("no new segment could be created after a failed rollback", {
              cause: this.lastError,
            }),
          ),
        );
    }
    const data = Buffer.from(payload);
    const topicBytes = Buffer.from(topic);
    const id = this.nextId++;
    const appendedAt = this.now();
    const record = Buffer.alloc(HEADER + FIXED + topicBytes.length + data.length);
    const body = record.subarray(HEADER);
    body.writeDoubleLE(id, 0);
    body.writeDoubleLE(appendedAt, 8);
    body.writeUInt16LE(topicBytes.length, 16);
    topicBytes.copy(body, FIXED);
    data.copy(body, FIXED + topicBytes.length);
    record.writeUInt32LE(body.length, 0);
    record.writeUInt32LE(crc32(body), 4);
    const start = this.segmentSize;
    try {
      writeAll(this.fs, this.fd, record);
      if (this.durability === "fsync") this.fs.fsyncSync(this.fd);
    } catch (e) {
      this.rollBack(start, [id]);
      return Promise.reject(
        this.fail(
          new OutboxWriteFailed(
            `append of entry ${id} failed, nothing of it kept: ${errorText(e)}`,
            {
              cause: e,
            },
          ),
        ),
      );
    }
    this.segmentSize = start + record.length;
    const located: Located = {
      id,
      topic,
      segment: this.segment,
      offset: start + HEADER + FIXED + topicBytes.length,
      length: data.length,
      appendedAt,
    };
    const entry: OutboxEntry = { id, topic, payload: data, appendedAt };
    if (this.durability !== "batch") {
      this.commit(located);
      return Promise.resolve(entry);
    }
    return new Promise((resolve, reject) => {
      this.unsynced.push({ located, start, resolve: () => resolve(entry), reject });
      this.syncTimer ??= setTimeout(() => this.sync(), this.options.batchMs ?? 50);
    });
  }

  /**
   * Un-acknowledged entries, oldest first; with `after`, only those appended
   * after that id (what a publisher has not taken yet), so draining a long
   * backlog reads each entry from disk once, not once per acknowledgement.
   * Only entries whose append has resolved are handed out.
   */
  pending(limit = Number.POSITIVE_INFINITY, after = 0): ReadonlyArray<OutboxEntry> {
    const out: Array<OutboxEntry> = [];
    for (const e of this.index) {
      if (out.length >= limit) break;
      if (e.id <= after) continue;
      out.push({ id: e.id, topic: e.topic, appendedAt: e.appendedAt, payload: this.read(e) });
    }
    return out;
  }

  /** Removes an entry after its PUBACK. Acks may come in any order. */
  ack(id: number): void {
    const at = this.index.findIndex((e) => e.id === id);
    if (at < 0) return;
    const [e] = this.index.splice(at, 1);
    this.bytes -= (e as Located).length;
    this.acked.add(id);
    this.ackedCount++;
    this.scheduleCheckpoint();
  }

  stats(): OutboxStats {
    return {
      depth: this.index.length,
      bytes: this.bytes,
      drops: this.drops,
      appended: this.appended,
      acked: this.ackedCount,
      repaired: this.repaired,
      lastError: this.lastError,
    };
  }

  /** Settles waiting appends, writes a last checkpoint, closes the files; failures go to `onError`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.checkpointTimer);
    this.sync();
    try {
      this.checkpoint();
    } catch (e) {
      this.fail(new OutboxMaintenanceFailed("checkpoint", e));
    }
    this.closeFd(this.fd);
    for (const fd of this.readFds.values()) this.closeFd(fd);
    this.readFds.clear();
  }

  /** An entry is in the outbox once its append has succeeded; room is made for it then. */
  private commit(e: Located) {
    this.makeRoom(e.length);
    this.index.push(e);
    this.bytes += e.length;
    this.appended++;
  }

  /** Drops the oldest entries until `incoming` more bytes fit. */
  private makeRoom(incoming: number) {
    let dropped = false;
    while (this.index.length > 0 && this.bytes + incoming > this.options.maxBytes) {
      const e = this.index.shift() as Located;
      this.bytes -= e.length;
      this.acked.add(e.id);
      this.drops++;
      dropped = true;
    }
    if (dropped) this.scheduleCheckpoint();
  }

  /**
   * Batch mode: one fsync for everything written since the last one. Those
   * appends resolve after it, or, if it fails, are cut off and rejected (the
   * caller keeps the data). Never throws: it runs on a timer.
   */
  private sync() {
    clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    const group = this.unsynced;
    const first = group[0];
    if (first === undefined) return;
    this.unsynced = [];
    try {
      this.fs.fsyncSync(this.fd);
    } catch (e) {
      this.rollBack(
        first.start,
        group.map((u) => u.located.id),
      );
      const error = this.fail(
        new OutboxWriteFailed(`fsync failed, ${group.length} appends not kept: ${errorText(e)}`, {
          cause: e,
        }),
      );
      for (const u of group) u.reject(error);
      return;
    }
    for (const u of group) {
      this.commit(u.located);
      u.resolve();
    }
  }

  /**
   * Cuts the current segment back to `size`, undoing failed appends. If that
   * fails, their ids are recorded as gone (so a reopen skips them if they are
   * whole on disk) and the next append starts a new segment.
   */
  private rollBack(size: number, ids: ReadonlyArray<number>) {
    let cut = false;
    try {
      this.fs.ftruncateSync(this.fd, size);
      cut = true;
      this.segmentSize = size;
      if (this.durability !== "none") this.fs.fsyncSync(this.fd);
    } catch (e) {
      if (!cut) this.segmentDamaged = true;
      for (const id of ids) this.acked.add(id);
      this.scheduleCheckpoint();
      this.fail(new OutboxMaintenanceFailed("rollback", e));
    }
  }

  private read(e: Located): Buffer {
    let fd = this.readFds.get(e.segment);
    if (fd === undefined) {
      fd = this.fs.openSync(join(this.options.dir, segmentName(e.segment)), "r");
      this.readFds.set(e.segment, fd);
    }
    const buffer = Buffer.alloc(e.length);
    this.fs.readSync(fd, buffer, 0, e.length, e.offset);
    return buffer;
  }

  /**
   * Moves on to a new segment file. The new one is opened before the old one
   * is closed: if it cannot be, the outbox keeps writing to the current one
   * and tries again at the next append.
   */
  private roll(): boolean {
    // Appends waiting for the group fsync are settled on the segment they were written to.
    this.sync();
    let fd: number;
    try {
      fd = this.fs.openSync(join(this.options.dir, segmentName(this.segment + 1)), "a");
    } catch (e) {
      this.fail(new OutboxMaintenanceFailed("roll", e));
      return false;
    }
    const old = this.fd;
    this.fd = fd;
    this.segment++;
    this.segmentSize = 0;
    this.segmentDamaged = false;
    this.closeFd(old);
    this.collect();
    return true;
  }

  /** Closes a descriptor once: even a failed close releases it, so it is never closed again. */
  private closeFd(fd: number) {
    try {
      this.fs.closeSync(fd);
    } catch (e) {
      this.fail(new OutboxMaintenanceFailed("close", e));
    }
  }

  /** Deletes segments none of whose entries are pending. */
  private collect() {
    const live = new Set(this.index.map((e) => e.segment));
    try {
      for (const file of this.fs.readdirSync(this.options.dir)) {
        const m = /^segment-(\d+)\.log$/.exec(file);
        const n = m ? Number(m[1]) : Number.NaN;
        if (m && n !== this.segment && !live.has(n)) {
          const fd = this.readFds.get(n);
          if (fd !== undefined) {
            this.readFds.delete(n);
            this.closeFd(fd);
          }
          this.fs.unlinkSync(join(this.options.dir, file));
        }
      }
    } catch (e) {
      this.fail(new OutboxMaintenanceFailed("cleanup", e));
    }
  }

  /**
   * Acks and drops are checkpointed at most every 200 ms: after a crash, at
   * most those few entries are sent again. A failed checkpoint is tried again,
   * backing off up to 30 s; it never throws out of the timer.
   */
  private scheduleCheckpoint(delayMs = CHECKPOINT_MS) {
    this.checkpointTimer ??= setTimeout(() => {
      this.checkpointTimer = undefined;
      if (this.closed) return;
      try {
        this.checkpoint();
        this.checkpointFailures = 0;
      } catch (e) {
        this.checkpointFailures++;
        this.fail(new OutboxMaintenanceFailed("checkpoint", e));
        this.scheduleCheckpoint(
          Math.min(CHECKPOINT_MS * 2 ** this.checkpointFailures, CHECKPOINT_RETRY_MAX_MS),
        );
      }
    }, delayMs);
  }

  private checkpoint() {
    // Appends waiting for their fsync are not in the index yet, but the head must not pass them.
    const head = Math.min(
      this.index[0]?.id ?? this.nextId,
      this.unsynced[0]?.located.id ?? this.nextId,
    );
    const state = {
      nextId: this.nextId,
      head,
      acked: [...this.acked].filter((id) => id >= head).sort((a, b) => a - b),
      drops: this.drops,
    };
    this.acked.clear();
    for (const id of state.acked) this.acked.add(id);
    const tmp = join(this.options.dir, `${CHECKPOINT}.tmp`);
    try {
      const fd = this.fs.openSync(tmp, "w");
      try {
        writeAll(this.fs, fd, Buffer.from(JSON.stringify(state)));
        this.fs.fsyncSync(fd);
      } finally {
        this.fs.closeSync(fd);
      }
      this.fs.renameSync(tmp, join(this.options.dir, CHECKPOINT));
    } catch (e) {
      try {
        this.fs.unlinkSync(tmp); // a half-written one only takes space on a full disk
      } catch {
        // Not there, or the disk is failing: the next checkpoint replaces it.
      }
      throw e;
    }
    this.collect();
  }

  private fail<E extends OutboxError>(error: E): E {
    this.lastError = error;
    try {
      this.options.onError?.(error);
    } catch {
      // A listener's failure must not break the outbox (or escape from its timers).
    }
    return error;
  }

  /** Rebuilds the index from the segments and the checkpoint; cuts off damaged records. */
  private recover() {
    const fs = this.fs;
    fs.mkdirSync(this.options.dir, { recursive: true });
    let checkpoint = { nextId: 1, head: 1, acked: [] as Array<number>, drops: 0 };
    try {
      checkpoint = {
        ...checkpoint,
        ...JSON.parse(fs.readFileSync(join(this.options.dir, CHECKPOINT)).toString("utf8")),
      };
    } catch {
      // No checkpoint yet (or a torn temporary one, which rename never exposed).
    }
    const acked = new Set(checkpoint.acked);
    this.drops = checkpoint.drops;
    this.nextId = checkpoint.nextId;
    const segments = fs
      .readdirSync(this.options.dir)
      .map((f) => /^segment-(\d+)\.log$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const n of segments) {
      const path = join(this.options.dir, segmentName(n));
      const data = fs.readFileSync(path);
      let offset = 0;
      while (offset < data.length) {
        if (offset + HEADER > data.length) break;
        const length = data.readUInt32LE(offset);
        const sum = data.readUInt32LE(offset + 4);
        if (length < FIXED || offset + HEADER + length > data.length) break;
        const body = data.subarray(offset + HEADER, offset + HEADER + length);
        if (crc32(body) !== sum) break;
        const id = body.readDoubleLE(0);
        const appendedAt = body.readDoubleLE(8);
        const topicLength = body.readUInt16LE(16);
        const topic = body.subarray(FIXED, FIXED + topicLength).toString();
        const payloadLength = length - FIXED - topicLength;
        if (id >= checkpoint.head && !acked.has(id)) {
          this.index.push({
            id,
            topic,
            segment: n,
            offset: offset + HEADER + FIXED + topicLength,
            length: payloadLength,
            appendedAt,
          });
          this.bytes += payloadLength;
        }
        this.nextId = Math.max(this.nextId, id + 1);
        offset += HEADER + length;
      }
      if (offset < data.length) {
        // A torn or damaged record: everything from it on in this segment is cut off.
        this.repaired++;
        const fd = fs.openSync(path, "r+");
        try {
          fs.ftruncateSync(fd, offset);
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
      }
    }
    for (const id of acked) if (id >= checkpoint.head) this.acked.add(id);
    this.segment = (segments.at(-1) ?? 0) + 1;
    this.fd = fs.openSync(join(this.options.dir, segmentName(this.segment)), "a");
    this.segmentSize = 0;
    // Drops in the last moments before a crash may not have reached the checkpoint: bound again.
    this.makeRoom(0);
    this.collect();
  }
}

export const openOutbox = (options: OutboxOptions): Promise<Outbox> => Outbox.open(options);
