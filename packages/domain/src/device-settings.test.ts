import { Effect, Either, Layer, Option, Schema } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  changeConfiguration,
  DeviceShadowNotFound,
  deviceConfiguration,
  endLiveMode,
  startLiveMode,
} from "./application/device-configuration.js";
import {
  ConfigurationChange,
  type DeviceSettings,
  effectivePublishIntervalMs,
  MAX_REFUSALS,
  readDesiredSettings,
  settingsState,
} from "./device-settings.js";
import { deviceId, epochMillis } from "./ids.js";
import { Clock } from "./ports/clock.js";
import { type DeviceShadow, DeviceShadows } from "./ports/device-shadows.js";
import { isSupportedSampleRate } from "./telemetry/device-commands.js";

describe("desired settings, read with the configuration file's rules", () => {
  it("a sample rate is taken exactly when the agent supports it, else refused with the file's reason", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: -10, max: 500 }), fc.double()), (hz) => {
        const { settings, refused } = readDesiredSettings({ sensor: { sample_rate_hz: hz } });
        if (isSupportedSampleRate(hz)) {
          expect(settings).toEqual({ sampleRateHz: hz });
          expect(refused).toEqual([]);
        } else {
          expect(settings).toEqual({});
          expect(refused).toEqual([
            { setting: "sensor.sample_rate_hz", reason: expect.stringContaining("sample_rate_hz") },
          ]);
        }
      }),
    );
  });

  it("whole milliseconds in the file's ranges for the intervals", () => {
    expect(
      readDesiredSettings({ publish: { interval_ms: 5000, status_interval_ms: 60000 } }),
    ).toEqual({ settings: { publishIntervalMs: 5000, statusIntervalMs: 60000 }, refused: [] });
    expect(readDesiredSettings({ publish: { interval_ms: 50 } }).refused).toEqual([
      { setting: "publish.interval_ms", reason: "interval_ms must be between 100 and 60000" },
    ]);
    expect(readDesiredSettings({ publish: { interval_ms: 250.5 } }).refused[0]?.reason).toBe(
      "interval_ms must be a whole number",
    );
    expect(
      readDesiredSettings({ publish: { status_interval_ms: "30s" } }).refused[0]?.setting,
    ).toBe("publish.status_interval_ms");
  });

  it("a bad value never stops a good one; every value is taken or refused, none in part", () => {
    const value = fc.oneof(
      fc.integer({ min: 0, max: 70_000 }),
      fc.constantFrom("x", null, [1], true),
    );
    fc.assert(
      fc.property(value, value, value, (rate, interval, status) => {
        const { settings, refused } = readDesiredSettings({
          sensor: { sample_rate_hz: rate },
          publish: { interval_ms: interval, status_interval_ms: status },
        });
        const taken = Object.keys(settings).length;
        expect(taken + refused.length).toBe(3);
        if (typeof rate === "number" && isSupportedSampleRate(rate))
          expect(settings.sampleRateHz).toBe(rate);
      }),
    );
  });

  it("live mode's two keys are one setting: both valid, or neither taken", () => {
    const until = 1_800_000_000_000;
    expect(readDesiredSettings({ publish: { live_interval_ms: 200, live_until: until } })).toEqual({
      settings: { live: { intervalMs: 200, until } },
      refused: [],
    });
    const alone = readDesiredSettings({ publish: { live_interval_ms: 200 } });
    expect(alone.settings).toEqual({});
    expect(alone.refused.map((r) => r.setting).sort()).toEqual([
      "publish.live_interval_ms",
      "publish.live_until",
    ]);
    const badEnd = readDesiredSettings({ publish: { live_interval_ms: 200, live_until: -5 } });
    expect(badEnd.settings).toEqual({});
    expect(badEnd.refused).toHaveLength(2);
  });

  it("keys that are no setting are refused, at most ten listed, reasons kept short", () => {
    expect(readDesiredSettings({ sensor: { gain: 3 } }).refused).toEqual([
      { setting: "sensor.gain", reason: "not a setting the agent takes" },
    ]);
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]));
    const { refused } = readDesiredSettings(many);
    expect(refused).toHaveLength(MAX_REFUSALS + 1);
    expect(refused.at(-1)).toEqual({ setting: "", reason: "and 30 more" });
    const huge = readDesiredSettings({ sensor: { sample_rate_hz: "x".repeat(10_000) } });
    expect(huge.refused[0]?.reason.length).toBeLessThanOrEqual(200);
    expect(readDesiredSettings("no")).toMatchObject({ settings: {}, refused: [{ setting: "" }] });
  });

  it("settings written as a shadow state read back as the same settings", () => {
    const settings = fc.record(
      {
        sampleRateHz: fc.constantFrom(1, 10, 50, 100, 400),
        publishIntervalMs: fc.integer({ min: 100, max: 60_000 }),
        statusIntervalMs: fc.integer({ min: 1_000, max: 3_600_000 }),
        live: fc.record({
          intervalMs: fc.integer({ min: 100, max: 60_000 }),
          until: fc.integer({ min: 0, max: 2_000_000_000_000 }),
        }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(settings, (s: DeviceSettings) => {
        expect(readDesiredSettings(settingsState(s))).toEqual({ settings: s, refused: [] });
      }),
    );
  });

  it("live mode's interval holds until its end, then the device's own", () => {
    const live = { intervalMs: 200, until: 10_000 };
    expect(effectivePublishIntervalMs(5000, live, 9_999)).toBe(200);
    expect(effectivePublishIntervalMs(5000, live, 10_000)).toBe(5000);
    expect(effectivePublishIntervalMs(5000, undefined, 0)).toBe(5000);
  });

  it("a change is checked as the configuration file is: the same messages", () => {
    const decode = Schema.decodeUnknownEither(ConfigurationChange, { errors: "all" });
    expect(Either.isRight(decode({ sensor: { sample_rate_hz: 100 } }))).toBe(true);
    expect(Either.isLeft(decode({ sensor: { sample_rate_hz: 75 } }))).toBe(true);
    expect(Either.isLeft(decode({ publish: { interval_ms: 99 } }))).toBe(true);
  });
});

/** A shadow in memory with the merge the service does (enough for the use cases). */
const fakeShadows = (initial?: DeviceShadow) => {
  let shadow = initial;
  const writes: Array<Readonly<Record<string, unknown>>> = [];
  const merge = (a: Record<string, unknown>, b: Readonly<Record<string, unknown>>) => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b))
      out[k] =
        typeof v === "object" && v !== null && typeof a[k] === "object"
          ? merge(a[k] as Record<string, unknown>, v as Record<string, unknown>)
          : v;
    return out;
  };
  const layer = Layer.succeed(DeviceShadows, {
    get: () => Effect.succeed(Option.fromNullable(shadow)),
    updateDesired: (_, desired) => {
      writes.push(desired);
      const version = (shadow?.version ?? 0) + 1;
      shadow = {
        version,
        desired: merge({ ...(shadow?.desired ?? {}) }, desired),
        reported: shadow?.reported,
        delta: undefined,
        desiredAt: undefined,
        reportedAt: undefined,
      };
      return Effect.succeed({ version });
    },
  });
  return { layer, writes };
};

const clock = (now: number) => Layer.succeed(Clock, { now: Effect.succeed(epochMillis(now)) });
const d = deviceId("pi-1");

describe("the device configuration use cases", () => {
  it("a device without a shadow is not found; one with a report shows it, what is pending and refused", async () => {
    const none = fakeShadows();
    const missing = await Effect.runPromise(
      Effect.either(deviceConfiguration(d)).pipe(Effect.provide(none.layer)),
    );
    expect(Either.isLeft(missing) && missing.left).toBeInstanceOf(DeviceShadowNotFound);

    const reported = {
      agent: { version: "0.1.0" },
      sensor: { model: "ADXL345", healthy: true, error: null, sample_rate_hz: 10 },
      publish: {
        interval_ms: 1000,
        status_interval_ms: 30000,
        effective_interval_ms: 1000,
        basic_ingest: false,
        last_publish_at: null,
      },
      outbox: { depth: 0, bytes: 0, drops: 0 },
      reconnects: 0,
      uptime_s: 5,
      refused: [{ setting: "sensor.sample_rate_hz", reason: "no" }],
      timestamp: 1_700_000_000_000,
    };
    const some = fakeShadows({
      version: 7,
      desired: { sensor: { sample_rate_hz: 75 }, publish: { interval_ms: 2000 } },
      reported,
      delta: { sensor: { sample_rate_hz: 75 }, publish: { interval_ms: 2000 } },
      desiredAt: 1,
      reportedAt: 2,
    });
    const view = await Effect.runPromise(deviceConfiguration(d).pipe(Effect.provide(some.layer)));
    expect(view).toMatchObject({
      version: 7,
      desired: { publishIntervalMs: 2000 },
      pending: ["sensor.sample_rate_hz", "publish.interval_ms"],
      refused: [{ setting: "sensor.sample_rate_hz", reason: "no" }],
      reported: { sensor: { sample_rate_hz: 10 } },
      desiredAt: 1,
      reportedAt: 2,
    });
  });

  it("a change writes the settings under the file's keys; live mode writes its two keys, capped at an hour", async () => {
    const shadows = fakeShadows();
    const run = <A, E>(e: Effect.Effect<A, E, DeviceShadows | Clock>) =>
      Effect.runPromise(e.pipe(Effect.provide(Layer.merge(shadows.layer, clock(1_000_000)))));
    await run(
      changeConfiguration(d, { sensor: { sample_rate_hz: 50 }, publish: { interval_ms: 5000 } }),
    );
    const live = await run(startLiveMode(d, { intervalMs: 200, durationMs: 5 * 3_600_000 }));
    expect(live.desired.live).toEqual({ intervalMs: 200, until: 1_000_000 + 3_600_000 });
    expect(shadows.writes).toEqual([
      { sensor: { sample_rate_hz: 50 }, publish: { interval_ms: 5000 } },
      { publish: { live_interval_ms: 200, live_until: 4_600_000 } },
    ]);
    const ended = await run(endLiveMode(d));
    expect(ended.desired.live).toEqual({ intervalMs: 200, until: 1_000_000 });
    // Nothing live any more: nothing written.
    await run(endLiveMode(d));
    expect(shadows.writes).toHaveLength(3);
  });
});
