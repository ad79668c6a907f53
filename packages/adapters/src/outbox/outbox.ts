import {
  closeSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
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
}

export interface OutboxOptions {
  readonly dir: string;
  readonly maxBytes: number;
  readonly durability?: Durability;
  readonly batchMs?: number;
  /** A segment file is rolled over at this size. */
  readonly segmentBytes?: number;
  readonly now?: () => number;
}

interface Located {
  readonly id: number;
  readonly topic: string;
  readonly segment: number;
  readonly offset: number;
  readonly length: number;
  readonly appendedAt: number;
}

// Record: [u32 body length][u32 crc32 of body][body]; body: [f64 id][f64 appendedAt][u16 topic length][topic][payload].
const HEADER = 8;
const FIXED = 18;
const CHECKPOINT = "checkpoint.json";

const segmentName = (n: number) => `segment-${String(n).padStart(10, "0")}.log`;

/**
 * A durable on-disk outbox: entries are appended before they are published
 * and removed after PUBACK, in order. Segment files of checksummed records
 * hold the entries; an atomically replaced checkpoint holds what has been
 * acknowledged or dropped. Only an index is kept in memory.
 */
export class Outbox {
  private readonly index: Array<Located> = [];
  private readonly acked = new Set<number>();
  private nextId = 1;
  private drops = 0;
  private appended = 0;
  private ackedCount = 0;
  private repaired = 0;
  private bytes = 0;
  private segment = 0;
  private segmentSize = 0;
  private fd = -1;
  private readonly readFds = new Map<number, number>();
  private syncTimer: NodeJS.Timeout | undefined;
  private waiting: Array<() => void> = [];
  private checkpointTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly durability: Durability;
  private readonly now: () => number;

  private constructor(private readonly options: OutboxOptions) {
    this.durability = options.durability ?? "batch";
    this.now = options.now ?? Date.now;
  }

  static async open(options: OutboxOptions): Promise<Outbox> {
    const box = new Outbox(options);
    box.recover();
    return box;
  }

  /** Appends an entry; resolves once it is as durable as configured. */
  append(payload: string | Uint8Array, topic: string): Promise<OutboxEntry> {
    if (this.closed) return Promise.reject(new Error("outbox is closed"));
    const data = typeof payload === "string" ? Buffer.from(payload) : Buffer.from(payload);
    const topicBytes = Buffer.from(topic);
    this.makeRoom(data.length);
    const id = this.nextId++;
    const appendedAt = this.now();
    const body = Buffer.alloc(FIXED + topicBytes.length + data.length);
    body.writeDoubleLE(id, 0);
    body.writeDoubleLE(appendedAt, 8);
    body.writeUInt16LE(topicBytes.length, 16);
    topicBytes.copy(body, FIXED);
    data.copy(body, FIXED + topicBytes.length);
    const header = Buffer.alloc(HEADER);
    header.writeUInt32LE(body.length, 0);
    header.writeUInt32LE(crc32(body), 4);
    if (this.segmentSize >= (this.options.segmentBytes ?? 4 * 1024 * 1024)) this.roll();
    const offset = this.segmentSize;
    writeSync(this.fd, Buffer.concat([header, body]));
    this.segmentSize += HEADER + body.length;
    this.index.push({
      id,
      topic,
      segment: this.segment,
      offset: offset + HEADER + FIXED + topicBytes.length,
      length: data.length,
      appendedAt,
    });
    this.bytes += data.length;
    this.appended++;
    const entry: OutboxEntry = { id, topic, payload: data, appendedAt };
    return this.durable().then(() => entry);
  }

  /**
   * Un-acknowledged entries, oldest first; with `after`, only those appended
   * after that id (what a publisher has not taken yet), so draining a long
   * backlog reads each entry from disk once, not once per acknowledgement.
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
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.syncTimer);
    clearTimeout(this.checkpointTimer);
    if (this.durability !== "none") fsyncSync(this.fd);
    this.flushWaiting();
    this.checkpoint();
    closeSync(this.fd);
    for (const fd of this.readFds.values()) closeSync(fd);
  }

  /** Drops the oldest entries until `incoming` more bytes fit. */
  private makeRoom(incoming: number) {
    while (this.index.length > 0 && this.bytes + incoming > this.options.maxBytes) {
      const e = this.index.shift() as Located;
      this.bytes -= e.length;
      this.acked.add(e.id);
      this.drops++;
    }
    if (this.drops > 0) this.scheduleCheckpoint();
  }

  private durable(): Promise<void> {
    if (this.durability === "none") return Promise.resolve();
    if (this.durability === "fsync") {
      fsyncSync(this.fd);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.syncTimer ??= setTimeout(() => {
        this.syncTimer = undefined;
        if (!this.closed) fsyncSync(this.fd);
        this.flushWaiting();
      }, this.options.batchMs ?? 50);
    });
  }

  private flushWaiting() {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }

  private read(e: Located): Buffer {
    let fd = this.readFds.get(e.segment);
    if (fd === undefined) {
      fd = openSync(join(this.options.dir, segmentName(e.segment)), "r");
      this.readFds.set(e.segment, fd);
    }
    const buffer = Buffer.alloc(e.length);
    readSync(fd, buffer, 0, e.length, e.offset);
    return buffer;
  }

  private roll() {
    closeSync(this.fd);
    this.segment++;
    this.fd = openSync(join(this.options.dir, segmentName(this.segment)), "a");
    this.segmentSize = 0;
    this.collect();
  }

  /** Deletes segments none of whose entries are pending. */
  private collect() {
    const live = new Set(this.index.map((e) => e.segment));
    for (const file of readdirSync(this.options.dir)) {
      const m = /^segment-(\d+)\.log$/.exec(file);
      const n = m ? Number(m[1]) : Number.NaN;
      if (m && n !== this.segment && !live.has(n)) {
        const fd = this.readFds.get(n);
        if (fd !== undefined) {
          closeSync(fd);
          this.readFds.delete(n);
        }
        unlinkSync(join(this.options.dir, file));
      }
    }
  }

  /** Acks and drops are checkpointed at most every 200 ms: after a crash, at most those few entries are sent again. */
  private scheduleCheckpoint() {
    this.checkpointTimer ??= setTimeout(() => {
      this.checkpointTimer = undefined;
      if (!this.closed) this.checkpoint();
    }, 200);
  }

  private checkpoint() {
    const head = this.index[0]?.id ?? this.nextId;
    const state = {
      nextId: this.nextId,
      head,
      acked: [...this.acked].filter((id) => id >= head).sort((a, b) => a - b),
      drops: this.drops,
    };
    this.acked.clear();
    for (const id of state.acked) this.acked.add(id);
    const tmp = join(this.options.dir, `${CHECKPOINT}.tmp`);
    const fd = openSync(tmp, "w");
    writeSync(fd, JSON.stringify(state));
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, join(this.options.dir, CHECKPOINT));
    this.collect();
  }

  /** Rebuilds the index from the segments and the checkpoint; cuts off damaged records. */
  private recover() {
    mkdirSync(this.options.dir, { recursive: true });
    let checkpoint = { nextId: 1, head: 1, acked: [] as Array<number>, drops: 0 };
    try {
      checkpoint = {
        ...checkpoint,
        ...JSON.parse(readFileSync(join(this.options.dir, CHECKPOINT), "utf8")),
      };
    } catch {
      // No checkpoint yet (or a torn temporary one, which rename never exposed).
    }
    const acked = new Set(checkpoint.acked);
    this.drops = checkpoint.drops;
    this.nextId = checkpoint.nextId;
    const segments = readdirSync(this.options.dir)
      .map((f) => /^segment-(\d+)\.log$/.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
    for (const n of segments) {
      const path = join(this.options.dir, segmentName(n));
      const data = readFileSync(path);
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
        const fd = openSync(path, "r+");
        ftruncateSync(fd, offset);
        fsyncSync(fd);
        closeSync(fd);
      }
    }
    for (const id of acked) if (id >= checkpoint.head) this.acked.add(id);
    this.segment = (segments.at(-1) ?? 0) + 1;
    this.fd = openSync(join(this.options.dir, segmentName(this.segment)), "a");
    this.segmentSize = 0;
    // Drops in the last moments before a crash may not have reached the checkpoint: bound again.
    this.makeRoom(0);
    this.collect();
  }
}

export const openOutbox = (options: OutboxOptions): Promise<Outbox> => Outbox.open(options);
