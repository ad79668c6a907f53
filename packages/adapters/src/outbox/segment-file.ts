import { join } from "node:path";
import { crc32 } from "node:zlib";

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

// Record: [u32 body length][u32 crc32 of body][body]; body: [f64 id][f64 appendedAt][u16 topic length][topic][payload].
const HEADER = 8;
const FIXED = 18;

export const segmentName = (n: number) => `segment-${String(n).padStart(10, "0")}.log`;

/** The segment number a file name holds, or undefined for any other file. */
export const segmentNumber = (file: string): number | undefined => {
  const m = /^segment-(\d+)\.log$/.exec(file);
  return m ? Number(m[1]) : undefined;
};

/** The segments in a folder, oldest first. */
export const segmentsIn = (fs: OutboxFs, dir: string): Array<number> =>
  fs
    .readdirSync(dir)
    .map(segmentNumber)
    .filter((n): n is number => n !== undefined)
    .sort((a, b) => a - b);

/** One entry's record; its payload is the record's last `payload.length` bytes. */
export const encodeRecord = (
  id: number,
  appendedAt: number,
  topic: Uint8Array,
  payload: Uint8Array,
): Buffer => {
  const record = Buffer.alloc(HEADER + FIXED + topic.length + payload.length);
  const body = record.subarray(HEADER);
  body.writeDoubleLE(id, 0);
  body.writeDoubleLE(appendedAt, 8);
  body.writeUInt16LE(topic.length, 16);
  body.set(topic, FIXED);
  body.set(payload, FIXED + topic.length);
  record.writeUInt32LE(body.length, 0);
  record.writeUInt32LE(crc32(body), 4);
  return record;
};

/** A record found in a segment: where its payload is in the file, not the payload itself. */
export interface StoredRecord {
  readonly id: number;
  readonly appendedAt: number;
  readonly topic: string;
  readonly offset: number;
  readonly length: number;
}

/**
 * The intact records of a segment, in order, and where they end: the first
 * record that is torn (cut short) or damaged (its checksum does not match)
 * ends the segment, and everything from it on is not to be trusted.
 */
export const readRecords = (data: Buffer): { records: Array<StoredRecord>; end: number } => {
  const records: Array<StoredRecord> = [];
  let offset = 0;
  while (offset + HEADER <= data.length) {
    const length = data.readUInt32LE(offset);
    const sum = data.readUInt32LE(offset + 4);
    if (length < FIXED || offset + HEADER + length > data.length) break;
    const body = data.subarray(offset + HEADER, offset + HEADER + length);
    if (crc32(body) !== sum) break;
    const topicLength = body.readUInt16LE(16);
    records.push({
      id: body.readDoubleLE(0),
      appendedAt: body.readDoubleLE(8),
      topic: body.subarray(FIXED, FIXED + topicLength).toString(),
      offset: offset + HEADER + FIXED + topicLength,
      length: length - FIXED - topicLength,
    });
    offset += HEADER + length;
  }
  return { records, end: offset };
};

/** Cuts a segment off at `size` (a torn or damaged tail found on open), durably. */
export const truncateSegment = (fs: OutboxFs, dir: string, segment: number, size: number) => {
  const fd = fs.openSync(join(dir, segmentName(segment)), "r+");
  try {
    fs.ftruncateSync(fd, size);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
};

/** `writeSync` may write less than asked (a disk filling up): go on until all of it is written or a call fails. */
export const writeAll = (fs: OutboxFs, fd: number, data: Uint8Array) => {
  let done = 0;
  while (done < data.length) {
    const n = fs.writeSync(fd, data, done, data.length - done);
    if (!(n > 0)) throw new Error(`short write: ${done} of ${data.length} bytes`);
    done += n;
  }
};
