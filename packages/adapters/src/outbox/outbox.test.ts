import { appendFileSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "../testing/temp-dirs.js";
import { openOutbox } from "./outbox.js";

const dir = tempDirs("outbox-");
const texts = (entries: ReadonlyArray<{ payload: Buffer }>) =>
  entries.map((e) => e.payload.toString());

describe("durable outbox", () => {
  it("hands out only what comes after a given entry, so a backlog is read once", async () => {
    const box = await openOutbox({ dir: dir(), maxBytes: 1 << 20, durability: "none" });
    const ids = [];
    for (const p of ["a", "b", "c", "d", "e"]) ids.push((await box.append(p, "t/x")).id);
    expect(texts(box.pending(2, ids[1]))).toEqual(["c", "d"]);
    expect(texts(box.pending(10, ids[4]))).toEqual([]);
    await box.close();
  });

  it("is bounded again when reopened (drops the last checkpoint did not record)", async () => {
    const d = dir();
    const box = await openOutbox({ dir: d, maxBytes: 1 << 20, durability: "none" });
    for (let i = 0; i < 10; i++) await box.append("x".repeat(100), "t/x");
    await box.close();
    const smaller = await openOutbox({ dir: d, maxBytes: 450, durability: "none" });
    expect(smaller.stats()).toMatchObject({ depth: 4, bytes: 400, drops: 6 });
    await smaller.close();
  });

  it("keeps order; removes entries on ack, in any order", async () => {
    const box = await openOutbox({ dir: dir(), maxBytes: 1 << 20, durability: "none" });
    const ids = [];
    for (const p of ["a", "b", "c", "d"]) ids.push((await box.append(p, "t/x")).id);
    expect(texts(box.pending())).toEqual(["a", "b", "c", "d"]);
    box.ack(ids[2]!);
    box.ack(ids[0]!);
    expect(texts(box.pending())).toEqual(["b", "d"]);
    expect(box.pending(1).map((e) => e.topic)).toEqual(["t/x"]);
    expect(box.stats()).toMatchObject({ depth: 2, bytes: 2, appended: 4, acked: 2, drops: 0 });
    await box.close();
  });

  it("survives a restart: pending entries stay, acked ones do not come back, ids keep increasing", async () => {
    const d = dir();
    const box = await openOutbox({ dir: d, maxBytes: 1 << 20, durability: "fsync" });
    const a = await box.append("first", "t");
    await box.append("second", "t");
    const c = await box.append("third", "t");
    box.ack(c.id);
    box.ack(a.id);
    await box.close();
    const again = await openOutbox({ dir: d, maxBytes: 1 << 20 });
    expect(texts(again.pending())).toEqual(["second"]);
    const d2 = await again.append("fourth", "t");
    expect(d2.id).toBeGreaterThan(c.id);
    await again.close();
  });

  it("stays within its byte bound by dropping the oldest, and counts drops across restarts", async () => {
    const d = dir();
    const box = await openOutbox({ dir: d, maxBytes: 30, durability: "none" });
    for (let i = 0; i < 10; i++) await box.append(`entry-${i}`, "t"); // 7 bytes each
    expect(texts(box.pending())).toEqual(["entry-6", "entry-7", "entry-8", "entry-9"]);
    expect(box.stats()).toMatchObject({ depth: 4, bytes: 28, drops: 6 });
    await box.close();
    const again = await openOutbox({ dir: d, maxBytes: 30 });
    expect(again.stats()).toMatchObject({ depth: 4, drops: 6 });
    await again.close();
  });

  it("detects a torn tail and keeps every complete record before it", async () => {
    const d = dir();
    const box = await openOutbox({ dir: d, maxBytes: 1 << 20, durability: "none" });
    for (const p of ["one", "two", "three"]) await box.append(p, "t");
    await box.close();
    const segment =
      readdirSync(d)
        .filter((f) => f.startsWith("segment-"))
        .sort()
        .at(-2) ?? readdirSync(d).find((f) => f.startsWith("segment-"))!;
    const path = join(d, segment);
    const size = statSync(path).size;
    writeFileSync(path, readFileSync(path).subarray(0, size - 3)); // the last record loses its end
    const again = await openOutbox({ dir: d, maxBytes: 1 << 20 });
    expect(texts(again.pending())).toEqual(["one", "two"]);
    expect(again.stats().repaired).toBe(1);
    await again.close();
    appendFileSync(path, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9])); // garbage after a clean end
    const third = await openOutbox({ dir: d, maxBytes: 1 << 20 });
    expect(texts(third.pending())).toEqual(["one", "two"]);
    await third.close();
  });

  it("detects a flipped bit", async () => {
    const d = dir();
    const box = await openOutbox({ dir: d, maxBytes: 1 << 20, durability: "none" });
    for (const p of ["alpha", "bravo", "charlie"]) await box.append(p, "t");
    await box.close();
    const segment = readdirSync(d).filter(
      (f) => f.startsWith("segment-") && statSync(join(d, f)).size > 0,
    )[0]!;
    const data = readFileSync(join(d, segment));
    const at = data.indexOf("bravo");
    data[at] = (data[at] as number) ^ 0x01;
    writeFileSync(join(d, segment), data);
    const again = await openOutbox({ dir: d, maxBytes: 1 << 20 });
    expect(texts(again.pending())).toEqual(["alpha"]);
    expect(again.stats().repaired).toBe(1);
    await again.close();
  });

  it("rolls segments and deletes those fully acknowledged", async () => {
    const d = dir();
    const box = await openOutbox({
      dir: d,
      maxBytes: 1 << 20,
      durability: "none",
      segmentBytes: 200,
    });
    const ids = [];
    for (let i = 0; i < 30; i++)
      ids.push((await box.append(`payload-${i}`.padEnd(40, "."), "t")).id);
    const before = readdirSync(d).filter((f) => f.startsWith("segment-")).length;
    for (const id of ids.slice(0, 25)) box.ack(id);
    await box.close();
    const after = readdirSync(d).filter((f) => f.startsWith("segment-")).length;
    expect(before).toBeGreaterThan(5);
    expect(after).toBeLessThan(before);
    const again = await openOutbox({ dir: d, maxBytes: 1 << 20, segmentBytes: 200 });
    expect(again.pending().map((e) => e.id)).toEqual(ids.slice(25));
    await again.close();
  });
});
