import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { ensurePrivateDir } from "./data-dir.js";

const root = mkdtempSync(join(tmpdir(), "medusa-data-dir-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

it("creates the data folder owner-only", () => {
  const log: Array<Record<string, unknown>> = [];
  const dir = join(root, "new", ".medusa");
  ensurePrivateDir(dir, (e) => log.push(e));
  expect(mode(dir)).toBe(0o700);
  expect(log).toEqual([]);
});

it("tightens a folder that exists with looser permissions, and what is in it, and says so", () => {
  const log: Array<Record<string, unknown>> = [];
  const dir = join(root, "old");
  mkdirSync(join(dir, "dynamodb"), { recursive: true });
  writeFileSync(join(dir, "dynamodb", "shared-local-instance.db"), "patient names");
  writeFileSync(join(dir, "ingest-failures.jsonl"), "{}\n");
  writeFileSync(join(dir, "private.key"), "key", { mode: 0o600 });
  chmodSync(dir, 0o755);
  chmodSync(join(dir, "dynamodb"), 0o775);
  chmodSync(join(dir, "dynamodb", "shared-local-instance.db"), 0o644);
  chmodSync(join(dir, "ingest-failures.jsonl"), 0o666);

  ensurePrivateDir(dir, (e) => log.push(e));
  expect(mode(dir)).toBe(0o700);
  expect(mode(join(dir, "dynamodb"))).toBe(0o700);
  expect(mode(join(dir, "dynamodb", "shared-local-instance.db"))).toBe(0o600);
  expect(mode(join(dir, "ingest-failures.jsonl"))).toBe(0o600);
  expect(mode(join(dir, "private.key"))).toBe(0o600);
  expect(log).toEqual([
    expect.objectContaining({
      level: "warn",
      msg: expect.stringContaining("made owner-only"),
      dir,
      count: 4,
    }),
  ]);

  // Once tight, nothing more is said.
  ensurePrivateDir(dir, (e) => log.push(e));
  expect(log).toHaveLength(1);
});
