import { Either, Schema } from "effect";
import { describe, expect, it } from "vitest";
import { DeviceId } from "../ids.js";
import { type DaySummary, dailySummaries, LocalDate, localDays } from "./daily.js";
import type { ActivityEpoch } from "./epochs.js";

const date = Schema.decodeSync(LocalDate);
const device = Schema.decodeSync(DeviceId);
const HOUR = 3_600_000;

const epoch = (start: number, d: string, over: Partial<ActivityEpoch> = {}): ActivityEpoch => ({
  start,
  epochMs: 60_000,
  deviceId: device(d),
  samples: 600,
  expected: 600,
  coverage: 1,
  enmoMg: 20,
  madMg: 10,
  steps: 0,
  cadence: 0,
  wear: true,
  intensity: "sedentary",
  ...over,
});

describe("local days", () => {
  it("run from local midnight to local midnight: 23 hours on the spring change, 25 in autumn", () => {
    const days = Either.getOrThrow(
      localDays(date("2026-03-28"), date("2026-03-30"), "Europe/Berlin"),
    );
    expect(days.map((d) => (d.end - d.start) / HOUR)).toEqual([24, 23, 24]);
    expect(days[0]?.start).toBe(Date.UTC(2026, 2, 27, 23));
    const autumn = Either.getOrThrow(
      localDays(date("2026-10-25"), date("2026-10-25"), "Europe/Berlin"),
    );
    expect(autumn.map((d) => (d.end - d.start) / HOUR)).toEqual([25]);
  });

  it("where a zone skips midnight, the day starts at the first moment of its date", () => {
    // Havana moved its clocks from 00:00 to 01:00 on 2026-03-08 (UTC−5 to UTC−4).
    const [day] = Either.getOrThrow(
      localDays(date("2026-03-08"), date("2026-03-08"), "America/Havana"),
    );
    expect(day?.start).toBe(Date.UTC(2026, 2, 8, 5));
    expect(((day?.end ?? 0) - (day?.start ?? 0)) / HOUR).toBe(23);
  });

  it("an unknown time zone is a typed error naming it", () => {
    const r = localDays(date("2026-03-28"), date("2026-03-28"), "Mars/Olympus");
    expect(Either.isLeft(r) && r.left._tag === "UnknownTimeZone" && r.left.timeZone).toBe(
      "Mars/Olympus",
    );
  });

  it("a date that is not on the calendar is refused", () => {
    expect(Either.isLeft(Schema.decodeUnknownEither(LocalDate)("2026-02-30"))).toBe(true);
  });
});

describe("daily summaries", () => {
  const [day] = Either.getOrThrow(
    localDays(date("2026-11-20"), date("2026-11-20"), "Europe/Berlin"),
  );
  const at = (minute: number) => (day?.start ?? 0) + minute * 60_000;

  it("count worn minutes per intensity, steps and mean ENMO; non-wear is not worn", () => {
    const epochs = [
      epoch(at(0), "dev-a", { intensity: "light", enmoMg: 60, steps: 10 }),
      epoch(at(1), "dev-a", { intensity: "moderate", enmoMg: 150, steps: 100 }),
      epoch(at(2), "dev-a", { wear: false, intensity: null, enmoMg: 0 }),
      epoch(at(3), "dev-a", { coverage: 0.5, samples: 300 }),
    ];
    const [s] = dailySummaries(day ? [day] : [], epochs) as [DaySummary];
    expect(s.wearMinutes).toBe(3);
    expect(s.minutes).toEqual({ sedentary: 1, light: 1, moderate: 1, vigorous: 0 });
    expect(s.steps).toBe(110);
    expect(s.meanEnmoMg).toBeCloseTo((60 + 150 + 20) / 3, 9);
    expect(s.coverage).toBeCloseTo(3.5 / (24 * 60), 9);
    expect(s.devices).toEqual(["dev-a"]);
  });

  it("two devices worn at once count each minute once, by the better coverage", () => {
    const epochs = [
      epoch(at(10), "dev-a", { coverage: 0.9, steps: 50, intensity: "light", enmoMg: 50 }),
      epoch(at(10), "dev-b", { coverage: 1, steps: 55, intensity: "light", enmoMg: 55 }),
    ];
    const [s] = dailySummaries(day ? [day] : [], epochs) as [DaySummary];
    expect(s.wearMinutes).toBe(1);
    expect(s.steps).toBe(55);
    expect(s.devices).toEqual(["dev-a", "dev-b"]);
  });

  it("a day without epochs has nothing worn and no mean", () => {
    const [s] = dailySummaries(day ? [day] : [], []) as [DaySummary];
    expect(s).toMatchObject({
      wearMinutes: 0,
      steps: 0,
      meanEnmoMg: null,
      coverage: 0,
      devices: [],
    });
  });
});
