import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { fileSequenceStore, SequenceFileError } from "./sequence.js";

const dir = mkdtempSync(join(tmpdir(), "medusa-sequence-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the sequence file", () => {
  it("starts at 0 when there is none, and continues from what was saved", () => {
    const path = join(dir, "fresh", "next-sequence");
    const store = fileSequenceStore(path);
    expect(store.load()).toBe(0);
    store.save(1234);
    expect(fileSequenceStore(path).load()).toBe(1234);
  });

  for (const content of ["", "\n", "12abc\n", "-5\n", "1e3\n", "1.5\n", "99999999999999999999\n"]) {
    it(`refuses ${JSON.stringify(content)} instead of starting again from 0`, () => {
      const path = join(dir, "next-sequence");
      writeFileSync(path, content);
      expect(() => fileSequenceStore(path).load()).toThrow(SequenceFileError);
      expect(() => fileSequenceStore(path).load()).toThrow(
        new RegExp(`^${path}: holds .*, not the next sequence number\\. Not starting`),
      );
    });
  }

  it("refuses a file it cannot read, naming it", () => {
    const path = join(dir, "a-folder");
    mkdirSync(path);
    expect(() => fileSequenceStore(path).load()).toThrow(
      new RegExp(`^${path}: cannot read the next sequence number: EISDIR`),
    );
  });
});
