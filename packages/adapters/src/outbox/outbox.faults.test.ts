import * as nodeFs from "node:fs";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "../testing/temp-dirs.js";
import { type OutboxError, OutboxMaintenanceFailed, OutboxWriteFailed } from "./errors.js";
import { type Durability, openOutbox } from "./outbox.js";
import type { OutboxFs } from "./segment-file.js";

const dir = tempDirs("outbox-faults-");
const texts = (entries: ReadonlyArray<{ payload: Buffer }>) =>
  entries.map((e) => e.payload.toString());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const eventually = async (check: () => boolean, what: string, timeoutMs = 3_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
};
const enospc = (call: string) =>
  Object.assign(new Error(`ENOSPC: no space left on device, ${call}`), { code: "ENOSPC" });

/**
 * node:fs with a disk that can fill up: `space` is what writes may still add
 * (a write gets what fits, the next one ENOSPC, as on a full tmpfs), `fail`
 * makes the next calls of one kind throw ENOSPC. It also notices a descriptor
 * closed that is not open (closed twice, or never opened).
 */
class FlakyFs implements OutboxFs {
  space = Number.POSITIVE_INFINITY;
  /** The next write writes at most this many bytes (and reports it), as a write interrupted part way does. */
  shortWrite: number | undefined;
  readonly strayCloses: Array<number> = [];
  private readonly failing = new Map<string, number>();
  private readonly open = new Set<number>();
  failOpen: (path: string, flags: string) => boolean = () => false;

  fail(call: keyof OutboxFs, times = 1) {
    this.failing.set(call, (this.failing.get(call) ?? 0) + times);
  }

  private check(call: keyof OutboxFs) {
    const left = this.failing.get(call) ?? 0;
    if (left > 0) {
      this.failing.set(call, left - 1);
      throw enospc(call);
    }
  }

  openSync(path: string, flags: string) {
    this.check("openSync");
    if (this.failOpen(path, flags)) throw enospc(`open '${path}'`);
    const fd = nodeFs.openSync(path, flags);
    this.open.add(fd);
    return fd;
  }
  closeSync(fd: number) {
    if (!this.open.delete(fd)) this.strayCloses.push(fd);
    nodeFs.closeSync(fd);
  }
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number) {
    this.check("writeSync");
    if (this.space <= 0) throw enospc("write");
    const cut = this.shortWrite ?? length;
    this.shortWrite = undefined;
    const n = nodeFs.writeSync(fd, buffer, offset, Math.min(length, this.space, cut));
    this.space -= n;
    return n;
  }
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number) {
    return nodeFs.readSync(fd, buffer, offset, length, position);
  }
  /** fsyncs done so far. */
  fsyncs = 0;
  fsyncSync(fd: number) {
    this.check("fsyncSync");
    nodeFs.fsyncSync(fd);
    this.fsyncs++;
  }
  ftruncateSync(fd: number, length: number) {
    this.check("ftruncateSync");
    nodeFs.ftruncateSync(fd, length);
  }
  readFileSync(path: string) {
    return nodeFs.readFileSync(path);
  }
  readdirSync(path: string) {
    return nodeFs.readdirSync(path);
  }
  renameSync(from: string, to: string) {
    this.check("renameSync");
    nodeFs.renameSync(from, to);
  }
  unlinkSync(path: string) {
    nodeFs.unlinkSync(path);
  }
  mkdirSync(path: string, options: { recursive: true }) {
    return nodeFs.mkdirSync(path, options);
  }
}

const openFlaky = async (
  d: string,
  durability: Durability,
  more: { segmentBytes?: number } = {},
) => {
  const fs = new FlakyFs();
  const errors: Array<OutboxError> = [];
  const box = await openOutbox({
    dir: d,
    maxBytes: 1 << 20,
    durability,
    batchMs: 5,
    fs,
    onError: (e) => errors.push(e),
    ...more,
  });
  return { box, fs, errors };
};

/** What a fresh process finds: every entry intact, nothing repaired. */
const reopened = async (d: string) => {
  const box = await openOutbox({ dir: d, maxBytes: 1 << 20 });
  const found = { texts: texts(box.pending()), repaired: box.stats().repaired };
  await box.close();
  return found;
};

describe("outbox on a failing disk", () => {
  for (const durability of ["fsync", "batch", "none"] as const) {
    it(`a write cut short by a full disk fails whole; later appends and a reopen give exactly what was stored (${durability})`, async () => {
      const d = dir();
      const { box, fs, errors } = await openFlaky(d, durability);
      await box.append("alpha", "t/x");
      await box.append("bravo", "t/x");
      fs.space = 12; // the next record gets its header and a little of its body
      await expect(box.append("charlie", "t/x")).rejects.toBeInstanceOf(OutboxWriteFailed);
      expect(errors.map((e) => e.name)).toEqual(["OutboxWriteFailed"]);
      expect(texts(box.pending())).toEqual(["alpha", "bravo"]);
      fs.space = Number.POSITIVE_INFINITY;
      await box.append("delta", "t/x");
      expect(texts(box.pending())).toEqual(["alpha", "bravo", "delta"]);
      expect(box.stats()).toMatchObject({ depth: 3, bytes: 15, appended: 3 });
      await box.close();
      expect(await reopened(d)).toEqual({ texts: ["alpha", "bravo", "delta"], repaired: 0 });
      expect(fs.strayCloses).toEqual([]);
    });
  }

  it("a write that comes back short but can go on lands whole", async () => {
    const d = dir();
    const { box, fs, errors } = await openFlaky(d, "fsync");
    await box.append("one", "t");
    fs.shortWrite = 10;
    const two = box.append("two", "t");
    await expect(two).resolves.toMatchObject({ payload: Buffer.from("two") });
    expect(errors).toEqual([]);
    await box.close();
    expect(await reopened(d)).toEqual({ texts: ["one", "two"], repaired: 0 });
  });

  it("a failed fsync in fsync mode fails the append and its record is never handed out", async () => {
    const d = dir();
    const { box, fs } = await openFlaky(d, "fsync");
    await box.append("kept", "t");
    fs.fail("fsyncSync");
    await expect(box.append("lost", "t")).rejects.toBeInstanceOf(OutboxWriteFailed);
    expect(texts(box.pending())).toEqual(["kept"]);
    await box.append("later", "t");
    expect(texts(box.pending())).toEqual(["kept", "later"]);
    expect(box.stats()).toMatchObject({ depth: 2, appended: 2 });
    await box.close();
    expect(await reopened(d)).toEqual({ texts: ["kept", "later"], repaired: 0 });
  });

  it("a failed append that cannot be cut off either: a new segment, and a reopen skips the record", async () => {
    const d = dir();
    const { box, fs, errors } = await openFlaky(d, "fsync");
    await box.append("kept", "t");
    fs.fail("fsyncSync");
    fs.fail("ftruncateSync");
    await expect(box.append("lost", "t")).rejects.toBeInstanceOf(OutboxWriteFailed);
    expect(
      errors.map((e) => (e instanceof OutboxMaintenanceFailed ? e.operation : e.name)),
    ).toEqual(["rollback", "OutboxWriteFailed"]);
    const segments = () => readdirSync(d).filter((f) => f.startsWith("segment-")).length;
    const before = segments();
    await box.append("later", "t");
    expect(segments()).toBe(before + 1);
    expect(texts(box.pending())).toEqual(["kept", "later"]);
    await box.close();
    expect(await reopened(d)).toEqual({ texts: ["kept", "later"], repaired: 0 });
  });

  it("a failed group fsync (batch): the appends waiting on it reject, are not kept, and nothing crashes", async () => {
    const d = dir();
    const { box, fs, errors } = await openFlaky(d, "batch");
    await box.append("first", "t");
    fs.fail("fsyncSync");
    const waiting = [box.append("second", "t"), box.append("third", "t")];
    expect(texts(box.pending())).toEqual(["first"]); // not handed out before their fsync
    const settled = await Promise.allSettled(waiting);
    for (const s of settled) {
      expect(s.status).toBe("rejected");
      expect((s as PromiseRejectedResult).reason).toBeInstanceOf(OutboxWriteFailed);
    }
    expect(errors).toHaveLength(1);
    expect(box.stats()).toMatchObject({ depth: 1, appended: 1, lastError: errors[0] });
    expect(texts(box.pending())).toEqual(["first"]);
    await box.append("fourth", "t");
    expect(texts(box.pending())).toEqual(["first", "fourth"]);
    await box.close();
    expect(await reopened(d)).toEqual({ texts: ["first", "fourth"], repaired: 0 });
  });

  it("a full disk during the checkpoint timer: no crash, acks stay done, the checkpoint is written once there is room", async () => {
    const d = dir();
    const { box, fs, errors } = await openFlaky(d, "none");
    const ids: Array<number> = [];
    for (const p of ["a", "b", "c"]) ids.push((await box.append(p, "t")).id);
    fs.space = 0;
    box.ack(ids[0]!);
    await eventually(() => errors.length > 0, "the checkpoint to fail");
    expect(errors[0]).toBeInstanceOf(OutboxMaintenanceFailed);
    expect((errors[0] as OutboxMaintenanceFailed).operation).toBe("checkpoint");
    expect(box.stats()).toMatchObject({ depth: 2, acked: 1 });
    expect(texts(box.pending())).toEqual(["b", "c"]);
    expect(readdirSync(d)).not.toContain("checkpoint.json.tmp");
    fs.space = Number.POSITIVE_INFINITY;
    const checkpoint = () => {
      try {
        return JSON.parse(readFileSync(join(d, "checkpoint.json"), "utf8")).head as number;
      } catch {
        return 0;
      }
    };
    await eventually(() => checkpoint() === ids[1], "the checkpoint to be retried");
    // A crash now (the outbox is still open): the ack is not lost.
    expect(await reopened(d)).toEqual({ texts: ["b", "c"], repaired: 0 });
    await box.append("d", "t");
    expect(texts(box.pending())).toEqual(["b", "c", "d"]);
    await box.close();
    expect(fs.strayCloses).toEqual([]);
  });

  for (const [durability, synced] of [
    ["none", false],
    ["batch", true],
    ["fsync", true],
  ] as const)
    it(`the checkpoint is fsynced as the entries are (${durability}: ${synced ? "yes" : "no"})`, async () => {
      const d = dir();
      const { box, fs } = await openFlaky(d, durability);
      const ids: Array<number> = [];
      for (const p of ["a", "b"]) ids.push((await box.append(p, "t")).id);
      const before = fs.fsyncs;
      for (const id of ids) box.ack(id);
      const head = () => {
        try {
          return JSON.parse(readFileSync(join(d, "checkpoint.json"), "utf8")).head as number;
        } catch {
          return 0;
        }
      };
      await eventually(() => head() === ids[1]! + 1, "the checkpoint");
      expect(fs.fsyncs - before).toBe(synced ? 1 : 0);
      // Either way a fresh process finds the acks (the rename alone survives kill -9).
      expect(await reopened(d)).toEqual({ texts: [], repaired: 0 });
      await box.close();
    });

  it("a full disk on close: it still closes, and says so", async () => {
    const d = dir();
    const { box, fs, errors } = await openFlaky(d, "none");
    const a = await box.append("a", "t");
    await box.append("b", "t");
    box.ack(a.id);
    fs.fail("renameSync");
    await expect(box.close()).resolves.toBeUndefined();
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/checkpoint failed/)]);
    expect(fs.strayCloses).toEqual([]);
    // Without the checkpoint the ack is not known: the entry is sent again, never lost.
    expect(await reopened(d)).toEqual({ texts: ["a", "b"], repaired: 0 });
  });

  for (const durability of ["fsync", "batch", "none"] as const) {
    it(`a failed segment roll: appends go on in the current segment, the roll is retried, no descriptor is closed twice (${durability})`, async () => {
      const d = dir();
      const { box, fs, errors } = await openFlaky(d, durability, { segmentBytes: 100 });
      fs.failOpen = (path, flags) => flags === "a" && path.includes("segment-");
      const payloads = Array.from({ length: 8 }, (_, i) => `payload-${i}`.padEnd(40, "."));
      for (const p of payloads.slice(0, 5)) await box.append(p, "t");
      expect(errors.length).toBeGreaterThan(0);
      expect(
        errors.every((e) => e instanceof OutboxMaintenanceFailed && e.operation === "roll"),
      ).toBe(true);
      const segments = () => readdirSync(d).filter((f) => f.startsWith("segment-"));
      expect(segments()).toHaveLength(1);
      fs.failOpen = () => false;
      for (const p of payloads.slice(5)) await box.append(p, "t");
      expect(segments().length).toBeGreaterThan(1);
      expect(texts(box.pending())).toEqual(payloads);
      await box.close();
      expect(fs.strayCloses).toEqual([]);
      expect(await reopened(d)).toEqual({ texts: payloads, repaired: 0 });
    });
  }
});
