// One file: the index, the segment being written and the checkpoint change together under every append, ack and failure.
import * as nodeFs from "node:fs";
import { join } from "node:path";
import { Effect, Layer } from "effect";
import { readCheckpoint, writeCheckpoint } from "./checkpoint.js";
import {
  errorText,
  OutboxClosed,
  type OutboxError,
  OutboxMaintenanceFailed,
  OutboxWriteFailed,
} from "./errors.js";
import {
  type OutboxEntry,
  type OutboxStats,
  SampleOutbox,
  type SampleOutboxService,
} from "./sample-outbox.js";
import {
  encodeRecord,
  type OutboxFs,
  readRecords,
  segmentName,
  segmentNumber,
  segmentsIn,
  truncateSegment,
  writeAll,
} from "./segment-file.js";

/**
 * How hard an append is made durable before it resolves:
 * - `fsync`: every append is fsynced (survives power loss; slowest on SD cards);
 * - `batch`: appends are fsynced together at most every `batchMs` and resolve
 *   after their fsync (survives power loss; one fsync per burst);
 * - `none`: written to the OS only (survives `kill -9`, not power loss); the
 *   checkpoint of what was acknowledged is then not fsynced either.
 */
export type Durability = "fsync" | "batch" | "none";

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

const CHECKPOINT_MS = 200;
const CHECKPOINT_RETRY_MAX_MS = 30_000;

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
export class Outbox implements SampleOutboxService {
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

  append(payload: string | Uint8Array, topic: string): Promise<OutboxEntry> {
    if (this.closed) return Promise.reject(new OutboxClosed());
    if (this.segmentDamaged || this.segmentSize >= this.segmentBytes) {
      if (!this.roll() && this.segmentDamaged)
        return Promise.reject(
          this.fail(
            new OutboxWriteFailed({
              message: "no new segment could be created after a failed rollback",
              cause: this.lastError,
            }),
          ),
        );
    }
    const data = Buffer.from(payload);
    const id = this.nextId++;
    const appendedAt = this.now();
    const record = encodeRecord(id, appendedAt, Buffer.from(topic), data);
    const start = this.segmentSize;
    try {
      writeAll(this.fs, this.fd, record);
      if (this.durability === "fsync") this.fs.fsyncSync(this.fd);
    } catch (e) {
      this.rollBack(start, [id]);
      return Promise.reject(
        this.fail(
          new OutboxWriteFailed({
            message: `append of entry ${id} failed, nothing of it kept: ${errorText(e)}`,
            cause: e,
          }),
        ),
      );
    }
    this.segmentSize = start + record.length;
    const located: Located = {
      id,
      topic,
      segment: this.segment,
      offset: start + record.length - data.length,
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

  /** With `after`, draining a long backlog reads each entry from disk once, not once per acknowledgement. */
  pending(limit = Number.POSITIVE_INFINITY, after = 0): ReadonlyArray<OutboxEntry> {
    const out: Array<OutboxEntry> = [];
    for (const e of this.index) {
      if (out.length >= limit) break;
      if (e.id <= after) continue;
      out.push({ id: e.id, topic: e.topic, appendedAt: e.appendedAt, payload: this.read(e) });
    }
    return out;
  }

  newest(): OutboxEntry | undefined {
    const e = this.index.at(-1);
    return e && { id: e.id, topic: e.topic, appendedAt: e.appendedAt, payload: this.read(e) };
  }

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
      this.fail(new OutboxMaintenanceFailed({ operation: "checkpoint", cause: e }));
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
        new OutboxWriteFailed({
          message: `fsync failed, ${group.length} appends not kept: ${errorText(e)}`,
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
      this.fail(new OutboxMaintenanceFailed({ operation: "rollback", cause: e }));
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
      this.fail(new OutboxMaintenanceFailed({ operation: "roll", cause: e }));
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
      this.fail(new OutboxMaintenanceFailed({ operation: "close", cause: e }));
    }
  }

  /** Deletes segments none of whose entries are pending. */
  private collect() {
    const live = new Set(this.index.map((e) => e.segment));
    try {
      for (const file of this.fs.readdirSync(this.options.dir)) {
        const n = segmentNumber(file);
        if (n !== undefined && n !== this.segment && !live.has(n)) {
          const fd = this.readFds.get(n);
          if (fd !== undefined) {
            this.readFds.delete(n);
            this.closeFd(fd);
          }
          this.fs.unlinkSync(join(this.options.dir, file));
        }
      }
    } catch (e) {
      this.fail(new OutboxMaintenanceFailed({ operation: "cleanup", cause: e }));
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
        this.fail(new OutboxMaintenanceFailed({ operation: "checkpoint", cause: e }));
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
    writeCheckpoint(this.fs, this.options.dir, state, { sync: this.durability !== "none" });
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
    const { dir } = this.options;
    this.fs.mkdirSync(dir, { recursive: true });
    const checkpoint = readCheckpoint(this.fs, dir);
    const acked = new Set(checkpoint.acked);
    this.drops = checkpoint.drops;
    this.nextId = checkpoint.nextId;
    const segments = segmentsIn(this.fs, dir);
    for (const segment of segments) {
      const data = this.fs.readFileSync(join(dir, segmentName(segment)));
      const { records, end } = readRecords(data);
      for (const { id, topic, offset, length, appendedAt } of records) {
        if (id >= checkpoint.head && !acked.has(id)) {
          this.index.push({ id, topic, segment, offset, length, appendedAt });
          this.bytes += length;
        }
        this.nextId = Math.max(this.nextId, id + 1);
      }
      if (end < data.length) {
        // A torn or damaged record: everything from it on in this segment is cut off.
        this.repaired++;
        truncateSegment(this.fs, dir, segment, end);
      }
    }
    for (const id of acked) if (id >= checkpoint.head) this.acked.add(id);
    this.segment = (segments.at(-1) ?? 0) + 1;
    this.fd = this.fs.openSync(join(dir, segmentName(this.segment)), "a");
    this.segmentSize = 0;
    // Drops in the last moments before a crash may not have reached the checkpoint: bound again.
    this.makeRoom(0);
    this.collect();
  }
}

export const openOutbox = (options: OutboxOptions): Promise<Outbox> => Outbox.open(options);

/** The on-disk outbox as the device's sample outbox: opened when built, closed when the layer's scope closes. */
export const outboxLayer = (options: OutboxOptions): Layer.Layer<SampleOutbox> =>
  Layer.scoped(
    SampleOutbox,
    Effect.acquireRelease(
      Effect.promise(() => openOutbox(options)),
      (outbox) => Effect.promise(() => outbox.close()),
    ),
  );
