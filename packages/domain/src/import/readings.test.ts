import { describe, expect, it } from "vitest";
import { planReadings } from "../application/import-readings.js";
import { DEFAULT_RETENTION_MS } from "../enrichment.js";
import type { EpochMillis } from "../ids.js";

const NOW = Date.UTC(2026, 10, 29, 12) as EpochMillis;
/** One row of the older sensor table, time in milliseconds. */
const reading = (t: number, sequence: number) => ({
  device_id: "pi-01",
  timestamp: t,
  accel_x: 0,
  accel_y: 0,
  accel_z: 1,
  sequence,
});

describe("planReadings", () => {
  it("keeps a reading taken exactly at the retention's start and refuses one a millisecond older, with the reason", () => {
    const oldest = NOW - DEFAULT_RETENTION_MS;
    const plan = planReadings([reading(oldest, 2), reading(oldest - 1, 1)], { now: NOW });
    expect([...plan.byDevice.values()].flat().map((s) => s.sequence)).toEqual([2]);
    expect(plan.refused).toEqual([
      {
        row: `pi-01@${oldest - 1}`,
        reason: expect.stringContaining("before the retention of 30 days"),
      },
    ]);
  });

  it("a longer retention keeps old history; rows come out in time order per device", () => {
    const plan = planReadings(
      [reading(NOW - 40 * 86_400_000, 2), reading(NOW - 41 * 86_400_000, 1)],
      {
        now: NOW,
        retentionMs: 60 * 86_400_000,
      },
    );
    expect(plan.refused).toEqual([]);
    expect([...plan.byDevice.values()].flat().map((s) => s.sequence)).toEqual([1, 2]);
  });

  it("a row that is not a reading is refused with the decoder's reason", () => {
    const plan = planReadings([{ device_id: "pi-01", timestamp: NOW, sequence: 1 }], { now: NOW });
    expect(plan.refused).toHaveLength(1);
    expect(plan.byDevice.size).toBe(0);
  });
});
