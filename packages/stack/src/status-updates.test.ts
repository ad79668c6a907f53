import { describe, expect, it } from "vitest";
import { startStatusUpdates } from "./status-updates.js";

/** A save that waits until the test lets it finish, and records what it was given. */
const controlled = (concurrency: number) => {
  const saves: Array<{
    device: string;
    changes: ReadonlyArray<string>;
    finish: (ok: boolean) => void;
  }> = [];
  let running = 0;
  let mostAtOnce = 0;
  const updates = startStatusUpdates<string, string, string>({
    concurrency,
    save: (device, changes) =>
      new Promise((resolve) => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        let finished = false;
        saves.push({
          device,
          changes,
          finish: (ok) => {
            if (finished) return;
            finished = true;
            running--;
            resolve(ok ? changes.map((c) => `${c} saved`) : undefined);
          },
        });
      }),
  });
  return { updates, saves, mostAtOnce: () => mostAtOnce };
};

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("the stack's device status saves", () => {
  it("changes of a device that come while its row is being saved go together in its next save, in order", async () => {
    const { updates, saves } = controlled(4);
    const first = updates.submit("pi-1", "connect");
    await tick();
    expect(saves.map((s) => s.changes)).toEqual([["connect"]]);
    const later = [
      updates.submit("pi-1", "reported v1"),
      updates.submit("pi-1", "reported v2"),
      updates.submit("pi-1", "disconnect"),
    ];
    await tick();
    expect(saves).toHaveLength(1); // one save of a device at a time
    saves[0]?.finish(true);
    expect(await first).toBe("connect saved");
    await tick();
    expect(saves.map((s) => s.changes)).toEqual([
      ["connect"],
      ["reported v1", "reported v2", "disconnect"],
    ]);
    expect(updates.pending()).toBe(3);
    saves[1]?.finish(true);
    expect(await Promise.all(later)).toEqual([
      "reported v1 saved",
      "reported v2 saved",
      "disconnect saved",
    ]);
    expect(updates.pending()).toBe(0);
  });

  it("at most `concurrency` devices at once, served in the order they asked", async () => {
    const { updates, saves, mostAtOnce } = controlled(2);
    const all = ["pi-1", "pi-2", "pi-3", "pi-4", "pi-5"].map((d) => updates.submit(d, `${d} up`));
    await tick();
    expect(saves.map((s) => s.device)).toEqual(["pi-1", "pi-2"]);
    saves[1]?.finish(true);
    await tick();
    expect(saves.map((s) => s.device)).toEqual(["pi-1", "pi-2", "pi-3"]);
    // A device that asks again while it waits is still one save.
    const again = updates.submit("pi-5", "pi-5 reported");
    for (let i = 0; i < 10 && saves.length < 5; i++) {
      for (const s of saves) s.finish(true);
      await tick();
    }
    for (const s of saves) s.finish(true);
    expect(await Promise.all(all)).toEqual(
      ["pi-1", "pi-2", "pi-3", "pi-4", "pi-5"].map((d) => `${d} up saved`),
    );
    expect(await again).toBe("pi-5 reported saved");
    expect(saves.map((s) => s.device)).toEqual(["pi-1", "pi-2", "pi-3", "pi-4", "pi-5"]);
    expect(saves.at(-1)?.changes).toEqual(["pi-5 up", "pi-5 reported"]);
    expect(mostAtOnce()).toBe(2);
  });

  it("a failed save answers its changes with nothing and the device's next changes still go", async () => {
    const { updates, saves } = controlled(1);
    const lost = updates.submit("pi-1", "connect");
    await tick();
    const next = updates.submit("pi-1", "disconnect");
    saves[0]?.finish(false);
    expect(await lost).toBeUndefined();
    await tick();
    saves[1]?.finish(true);
    expect(await next).toBe("disconnect saved");
    // A save that throws instead of answering is a failed one too.
    const throwing = startStatusUpdates<string, string, string>({
      concurrency: 1,
      save: () => Promise.reject(new Error("broken")),
    });
    expect(await throwing.submit("pi-1", "connect")).toBeUndefined();
    expect(throwing.pending()).toBe(0);
  });
});
