import { encodeSampleBatch } from "@medusa/domain";
import { describe, expect, it } from "vitest";
import { Batcher } from "./batcher.js";

const T = Date.UTC(2026, 0, 1);
const reading = (timestamp: number, z = 1) => ({ timestamp, x: 0, y: 0, z });

describe("batcher", () => {
  it("refuses readings the native batch cannot carry, before numbering them, and says why", () => {
    const b = new Batcher(7);
    const rtcDead = Date.UTC(2000, 0, 1); // a Pi whose RTC battery is dead, before NTP
    const added = b.add([
      reading(rtcDead),
      reading(T),
      reading(rtcDead + 100),
      reading(T + 100, Number.NaN),
      reading(T + 200, 17),
      reading(T + 300),
    ]);
    expect(added).toBe(2);
    expect(b.refused).toEqual({ clock: 2, value: 2 });
    const [batch, ...rest] = b.take();
    expect(rest).toEqual([]);
    expect(batch?.map((s) => [s.timestamp, s.sequence])).toEqual([
      [T, 7],
      [T + 300, 8],
    ]);
    expect(() => encodeSampleBatch(batch ?? [])).not.toThrow();
    expect(b.nextSequence).toBe(9);

    b.add([reading(rtcDead)]);
    expect(b.lastRefusal).toBe(
      "sample time 2000-01-01T00:00:00.000Z is not between 2020 and 2100 (is the clock set?)",
    );
    b.add([reading(T, 17)]);
    expect(b.lastRefusal).toMatch(/^reading at \d+ \(x 0, y 0, z 17\) is not a sample: z: /);
  });

  it("puts samples given back first, with the numbers they had", () => {
    const b = new Batcher();
    b.add([reading(T), reading(T + 1)]);
    const [taken] = b.take();
    b.add([reading(T + 2)]);
    b.requeue(taken ?? []);
    expect(
      b
        .take()
        .flat()
        .map((s) => [s.timestamp, s.sequence]),
    ).toEqual([
      [T, 0],
      [T + 1, 1],
      [T + 2, 2],
    ]);
    expect(b.nextSequence).toBe(3);
  });

  it("holds at most maxPending samples, dropping the oldest and counting them", () => {
    const b = new Batcher(0, { maxPending: 5 });
    b.add(Array.from({ length: 4 }, (_, i) => reading(T + i)));
    const [taken] = b.take();
    b.add(Array.from({ length: 3 }, (_, i) => reading(T + 4 + i)));
    b.requeue(taken ?? []);
    expect(b.size).toBe(5);
    expect(b.dropped).toBe(2);
    expect(
      b
        .take()
        .flat()
        .map((s) => s.sequence),
    ).toEqual([2, 3, 4, 5, 6]);
    b.add(Array.from({ length: 8 }, (_, i) => reading(T + 10 + i)));
    expect(b.size).toBe(5);
    expect(b.dropped).toBe(5);
  });

  it("reserves numbers a block ahead, before the first number of each block is given", () => {
    const reserved: Array<[number, number]> = [];
    const b = new Batcher(10, {
      block: 5,
      reserve: (upTo) => reserved.push([upTo, b.nextSequence]),
    });
    expect(reserved).toEqual([]);
    b.add([reading(T)]);
    expect(reserved).toEqual([[15, 10]]);
    b.add([1, 2, 3, 4, 5, 6].map((i) => reading(T + i * 10)));
    expect(reserved).toEqual([
      [15, 10],
      [20, 15],
    ]);
    expect(b.nextSequence).toBe(17);
  });
});
