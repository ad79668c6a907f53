import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, expect, it } from "vitest";
import { openOutbox } from "./outbox.js";

const dirs: Array<string> = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tsx = createRequire(import.meta.url).resolve("tsx");

for (const durability of ["batch", "none"] as const) {
  it(`survives kill -9 mid-stream (durability ${durability}): every resolved append is there, intact`, async () => {
    const dir = mkdtempSync(join(tmpdir(), "outbox-crash-"));
    dirs.push(dir);
    const child = spawn(
      process.execPath,
      [
        "--import",
        tsx,
        fileURLToPath(new URL("./crash-writer.fixture.ts", import.meta.url)),
        dir,
        durability,
      ],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const resolved: Array<number> = [];
    let buffer = "";
    child.stdout.on("data", (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const l of lines) resolved.push(Number(l));
    });
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (resolved.length >= 300) {
          clearInterval(check);
          child.kill("SIGKILL");
          resolve();
        }
      }, 5);
    });
    await new Promise((r) => child.once("exit", r));
    const box = await openOutbox({ dir, maxBytes: 64 * 1024 * 1024, segmentBytes: 64 * 1024 });
    const pending = box.pending();
    const ids = new Set(pending.map((e) => e.id));
    for (const id of resolved) expect(ids.has(id)).toBe(true);
    for (const e of pending) expect(JSON.parse(e.payload.toString()).pad).toHaveLength(200);
    expect(pending.map((e) => e.id)).toEqual([...ids].sort((a, b) => a - b));
    await box.close();
  });
}
