import { Either } from "effect";
import type { AxisStats, BlockMetrics, EpochMetrics } from "./block.js";
import { BLOCK_MS } from "./settings.js";

/**
 * A block's metrics as stored: whole numbers as varints, about 250 bytes for
 * a block of fifteen 60 s epochs, so a stored block (with its keys) is one
 * write unit and a week of one device is about 200 KB to read.
 *
 * Layout (version 1): `[1, varint epochMs, varint samples, varint minutes,
 * per axis (x, y, z): zigzag sum, varint squares, zigzag min, zigzag max,
 * varint epochs, per epoch: varint index gap, varint samples, varint
 * expected, varint enmo, varint mad, varint steps]`.
 */
export const BLOCK_CODEC_VERSION = 1;

const bytesOf = (values: Array<number>): Uint8Array => Uint8Array.from(values);

class Writer {
  readonly out: Array<number> = [];
  varint(n: number) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a whole number ≥ 0: ${n}`);
    let v = n;
    while (v >= 0x80) {
      this.out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.out.push(v);
  }
  zigzag(n: number) {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
  }
}

class Reader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}
  varint(): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.bytes.length) throw new RangeError("the block ends too soon");
      const b = this.bytes[this.at++] as number;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new RangeError("a number in the block is too long");
    }
  }
  zigzag(): number {
    const v = this.varint();
    return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  }
  get rest(): number {
    return this.bytes.length - this.at;
  }
}

/** The stored form of a block's metrics. */
export const encodeBlock = (block: BlockMetrics): Uint8Array => {
  const w = new Writer();
  w.varint(BLOCK_CODEC_VERSION);
  w.varint(block.epochMs);
  w.varint(block.stats.samples);
  w.varint(block.stats.minutes);
  for (const a of [block.stats.x, block.stats.y, block.stats.z]) {
    w.zigzag(a.sum);
    w.varint(a.squares);
    w.zigzag(a.min);
    w.zigzag(a.max);
  }
  w.varint(block.epochs.length);
  let previous = -1;
  for (const e of block.epochs) {
    w.varint(e.index - previous - 1);
    previous = e.index;
    w.varint(e.samples);
    w.varint(e.expected);
    w.varint(e.enmo);
    w.varint(e.mad);
    w.varint(e.steps);
  }
  return bytesOf(w.out);
};

/** A stored block back to its metrics (its start comes from the key), or why the bytes are not one. */
export const decodeBlock = (
  bytes: Uint8Array,
  start: number,
): Either.Either<BlockMetrics, string> => {
  try {
    const r = new Reader(bytes);
    const version = r.varint();
    if (version !== BLOCK_CODEC_VERSION) return Either.left(`unknown block format ${version}`);
    const epochMs = r.varint();
    if (epochMs === 0 || BLOCK_MS % epochMs !== 0)
      return Either.left(`epoch of ${epochMs} ms does not divide a block`);
    const samples = r.varint();
    const minutes = r.varint();
    const axis = (): AxisStats => ({
      sum: r.zigzag(),
      squares: r.varint(),
      min: r.zigzag(),
      max: r.zigzag(),
    });
    const x = axis();
    const y = axis();
    const z = axis();
    const count = r.varint();
    if (count > BLOCK_MS / epochMs) return Either.left(`${count} epochs in a block`);
    const epochs: Array<EpochMetrics> = [];
    let index = -1;
    for (let k = 0; k < count; k++) {
      index += r.varint() + 1;
      if (index >= BLOCK_MS / epochMs) return Either.left(`epoch ${index} beyond the block`);
      epochs.push({
        index,
        samples: r.varint(),
        expected: r.varint(),
        enmo: r.varint(),
        mad: r.varint(),
        steps: r.varint(),
      });
    }
    if (r.rest !== 0) return Either.left(`${r.rest} bytes after the block`);
    return Either.right({ start, epochMs, epochs, stats: { samples, minutes, x, y, z } });
  } catch (e) {
    return Either.left(e instanceof Error ? e.message : String(e));
  }
};
