import * as fs from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDirs } from "../testing/temp-dirs.js";
import { OutboxWriteFailed } from "./errors.js";
import { openJournal } from "./journal.js";
import { openOutbox } from "./outbox.js";

const dir = tempDirs("journal-");
const texts = (records: ReadonlyArray<Buffer>) => records.map((r) => r.toString());
/** `node:fs`, counting fsyncs; `failWrites` makes writes fail as a full disk does. */
const countingFs = () => {
  const counted = { ...fs, fsyncs: 0, failWrites: false };
  counted.fsyncSync = (fd: number) => {
    counted.fsyncs++;
    fs.fsyncSync(fd);
  };
  counted.writeSync = ((fd: number, buffer: Uint8Array, offset: number, length: number) => {
    if (counted.failWrites)
      throw Object.assign(new Error("ENOSPC: no space left"), { code: "ENOSPC" });
    return fs.writeSync(fd, buffer, offset, length);
  }) as typeof fs.writeSync;
  return counted;
};

describe("the journal beside the outbox", () => {
  it("gives a restart what was written since it was last cleared, in order", async () => {
    const path = join(dir(), "journal");
    const journal = openJournal({ path, durability: "none" });
    expect(journal.recovered()).toEqual([]);
    journal.write("a");
    journal.write("b");
    await journal.close();
    const again = openJournal({ path, durability: "none" });
    expect(texts(again.recovered())).toEqual(["a", "b"]);
    again.write("c");
    again.clear();
    again.write("d");
    await again.close();
    expect(texts(openJournal({ path }).recovered())).toEqual(["d"]);
  });

  it("cuts off a torn last record (the write a crash cut short), keeping the ones before", async () => {
    const path = join(dir(), "journal");
    const journal = openJournal({ path, durability: "none" });
    journal.write("whole");
    journal.write("torn record");
    await journal.close();
    fs.truncateSync(path, fs.statSync(path).size - 3);
    const again = openJournal({ path, durability: "none" });
    expect(texts(again.recovered())).toEqual(["whole"]);
    again.write("after");
    await again.close();
    expect(texts(openJournal({ path }).recovered())).toEqual(["whole", "after"]);
  });

  it("fsyncs each write and clear unless durability is none", async () => {
    for (const [durability, fsyncs] of [
      ["batch", 3],
      ["fsync", 3],
      ["none", 0],
    ] as const) {
      const counted = countingFs();
      const journal = openJournal({ path: join(dir(), "journal"), durability, fs: counted });
      journal.write("a");
      journal.write("b");
      journal.clear();
      journal.clear(); // empty already: nothing to do
      await journal.close();
      expect(counted.fsyncs, durability).toBe(fsyncs);
    }
  });

  it("a failed write throws OutboxWriteFailed and leaves nothing of it", async () => {
    const counted = countingFs();
    const path = join(dir(), "journal");
    const journal = openJournal({ path, durability: "none", fs: counted });
    journal.write("kept");
    counted.failWrites = true;
    expect(() => journal.write("lost")).toThrow(OutboxWriteFailed);
    counted.failWrites = false;
    journal.write("next");
    await journal.close();
    expect(texts(openJournal({ path }).recovered())).toEqual(["kept", "next"]);
  });

  it("lives in the outbox folder without the outbox taking it for a segment", async () => {
    const d = dir();
    const journal = openJournal({ path: join(d, "journal"), durability: "none" });
    journal.write("staged");
    const box = await openOutbox({ dir: d, maxBytes: 1 << 20, durability: "none" });
    await box.append("entry", "t");
    expect(box.newest()?.payload.toString()).toBe("entry");
    await box.close();
    await journal.close();
    const again = await openOutbox({ dir: d, maxBytes: 1 << 20, durability: "none" });
    expect(again.pending().map((e) => e.payload.toString())).toEqual(["entry"]);
    await again.close();
    expect(texts(openJournal({ path: join(d, "journal") }).recovered())).toEqual(["staged"]);
  });
});
