import { describe, expect, it } from "vitest";
import { backoffDelay } from "./transport.js";

describe("reconnect backoff", () => {
  it("is full jitter under an exponentially growing, capped ceiling", () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 1_000, 60_000, () => 0.999999))).toEqual([
      999, 1_999, 3_999, 7_999, 59_999,
    ]);
    expect(backoffDelay(5, 1_000, 60_000, () => 0)).toBe(0);
    expect(backoffDelay(3, 1_000, 60_000, () => 0.5)).toBe(4_000);
  });
});
