import { DeviceId, epochMillis } from "@medusa/domain";
import { Schema } from "effect";
import { describe, expect, it } from "vitest";
import { SampleTimesSeen } from "./sample-times-seen.js";

const device = (n: number) => Schema.decodeSync(DeviceId)(`dev-${n}`);
const T = 1_763_625_600_000;

describe("SampleTimesSeen", () => {
  it("recalls the time last remembered for a device, and none for a device it never saw", () => {
    const seen = new SampleTimesSeen();
    expect(seen.recalled(device(1))).toBeUndefined();
    seen.remember(device(1), epochMillis(T));
    seen.remember(device(1), epochMillis(T + 60_000));
    expect(seen.recalled(device(1))).toBe(T + 60_000);
    expect(seen.recalled(device(2))).toBeUndefined();
  });

  it("holds at most its capacity of devices, forgetting the one first remembered", () => {
    const seen = new SampleTimesSeen(3);
    for (let n = 1; n <= 3; n++) seen.remember(device(n), epochMillis(T + n));
    // A device it holds already takes no room.
    seen.remember(device(2), epochMillis(T + 100));
    expect(seen.size).toBe(3);
    seen.remember(device(4), epochMillis(T + 4));
    expect(seen.size).toBe(3);
    expect(seen.recalled(device(1))).toBeUndefined();
    expect([2, 3, 4].map((n) => seen.recalled(device(n)))).toEqual([T + 100, T + 3, T + 4]);
  });
});
