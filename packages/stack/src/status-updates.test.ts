import { describe, expect, it, vi } from "vitest";
import { startStatusUpdates } from "./status-updates.js";

/** A save that waits until the test lets it finish, and records what it was given. */
const controlled = (concurrency: number, devicesPerSave?: number) => {
  const saves: Array<{
    /** The first device of the save, and its changes (a save of one device: that one). */
    device: string;
    changes: ReadonlyArray<string>;
    devices: ReadonlyArray<{ deviceId: string; changes: ReadonlyArray<string> }>;
    finish: (ok: boolean) => void;
  }> = [];
  let running = 0;
  let mostAtOnce = 0;
  const updates = startStatusUpdates<string, string, string>({
    concurrency,
    ...(devicesPerSave !== undefined ? { devicesPerSave } : {}),
    save: (devices) =>
      new Promise((resolve) => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        let finished = false;
        saves.push({
          device: devices[0]?.deviceId ?? "",
          changes: devices[0]?.changes ?? [],
          devices,
          finish: (ok) => {
            if (finished) return;
            finished = true;
            running--;
            resolve(ok ? devices.map((d) => d.changes.map((c) => `${c} saved`)) : undefined);
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

  it("a change that may wait goes when due, or at once with an urgent change of its device", async () => {
    vi.useFakeTimers();
    try {
      const { updates, saves } = controlled(4);
      const sample = updates.submit("pi-1", "sample time", 5_000);
      const report = updates.submit("pi-2", "reported", 1_000);
      await vi.advanceTimersByTimeAsync(999);
      expect(saves).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(saves.map((s) => [s.device, s.changes])).toEqual([["pi-2", ["reported"]]]);
      // A connect of pi-1 takes its waiting sample time along.
      const connect = updates.submit("pi-1", "connect");
      await vi.advanceTimersByTimeAsync(0);
      expect(saves.map((s) => s.changes)).toEqual([["reported"], ["sample time", "connect"]]);
      // A change that may wait, coming while its device is saved, waits its time after the save.
      const later = updates.submit("pi-1", "sample time 2", 5_000);
      for (const s of saves) s.finish(true);
      expect(await Promise.all([sample, report, connect])).toEqual([
        "sample time saved",
        "reported saved",
        "connect saved",
      ]);
      await vi.advanceTimersByTimeAsync(4_990);
      expect(saves).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(10);
      expect(saves.at(-1)?.changes).toEqual(["sample time 2"]);
      saves.at(-1)?.finish(true);
      expect(await later).toBe("sample time 2 saved");
      expect(updates.pending()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("flush: every waiting change is due at once, and those that come after it too", async () => {
    vi.useFakeTimers();
    try {
      const { updates, saves } = controlled(4);
      const waiting = [
        updates.submit("pi-1", "sample time", 5_000),
        updates.submit("pi-2", "reported", 1_000),
      ];
      await vi.advanceTimersByTimeAsync(0);
      expect(saves).toHaveLength(0);
      updates.flush();
      const after = updates.submit("pi-3", "sample time", 5_000);
      await vi.advanceTimersByTimeAsync(0);
      expect(saves.map((s) => s.device)).toEqual(["pi-1", "pi-2", "pi-3"]);
      for (const s of saves) s.finish(true);
      expect(await Promise.all([...waiting, after])).toEqual([
        "sample time saved",
        "reported saved",
        "sample time saved",
      ]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("devices due go several to a save, in the order they became due; a device failed alone is answered nothing", async () => {
    const { updates, saves, mostAtOnce } = controlled(2, 3);
    const all = ["pi-1", "pi-2", "pi-3", "pi-4", "pi-5", "pi-6", "pi-7"].map((d) =>
      updates.submit(d, `${d} up`),
    );
    await tick();
    // The first two found a save free; the others wait and go three at a time.
    expect(saves.map((s) => s.devices.map((d) => d.deviceId))).toEqual([["pi-1"], ["pi-2"]]);
    // A waiting device asks again: it still goes once, with both changes.
    const waitingAgain = updates.submit("pi-3", "pi-3 reported");
    saves[0]?.finish(true);
    await tick();
    expect(saves.at(-1)?.devices).toEqual([
      { deviceId: "pi-3", changes: ["pi-3 up", "pi-3 reported"] },
      { deviceId: "pi-4", changes: ["pi-4 up"] },
      { deviceId: "pi-5", changes: ["pi-5 up"] },
    ]);
    // A device of a running save asks again: it goes after that save, in a later one.
    const savingAgain = updates.submit("pi-4", "pi-4 reported");
    saves[1]?.finish(true);
    await tick();
    expect(saves.at(-1)?.devices.map((d) => d.deviceId)).toEqual(["pi-6", "pi-7"]);
    saves[2]?.finish(true);
    await tick();
    expect(saves.at(-1)?.devices).toEqual([{ deviceId: "pi-4", changes: ["pi-4 reported"] }]);
    for (const s of saves) s.finish(true);
    expect(await Promise.all(all)).toEqual(
      ["pi-1", "pi-2", "pi-3", "pi-4", "pi-5", "pi-6", "pi-7"].map((d) => `${d} up saved`),
    );
    expect(await Promise.all([waitingAgain, savingAgain])).toEqual([
      "pi-3 reported saved",
      "pi-4 reported saved",
    ]);
    expect(mostAtOnce()).toBe(2);
    // A save that answers for some devices only: the others' changes are answered nothing.
    const partial = startStatusUpdates<string, string, string>({
      concurrency: 1,
      devicesPerSave: 2,
      save: async (devices) =>
        devices.map((d) =>
          d.deviceId === "pi-1" ? d.changes.map((c) => `${c} saved`) : undefined,
        ),
    });
    expect(await Promise.all([partial.submit("pi-1", "up"), partial.submit("pi-2", "up")])).toEqual(
      ["up saved", undefined],
    );
    expect(partial.pending()).toBe(0);
  });
});
