import { type DeviceId, type DeviceShadowsService, deviceId } from "@medusa/domain";
import { Effect, Either, Option } from "effect";
import { describe, expect, it } from "vitest";

/** A shadows implementation under test, and how a device reports into it. */
export interface ShadowsUnderTest {
  readonly shadows: DeviceShadowsService;
  readonly report: (id: DeviceId, reported: Readonly<Record<string, unknown>>) => Promise<void>;
}

let runs = 0;

/** The behaviour every `DeviceShadows` has (the in-memory twin and AWS IoT's data plane, emulated, run it). */
export const deviceShadowsContract = (name: string, setup: () => Promise<ShadowsUnderTest>) =>
  describe(`device shadows contract: ${name}`, () => {
    const fresh = () => deviceId(`contract-${process.pid}-${runs++}`);
    const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(Effect.either(e));

    it("a device without a shadow has none; a desired write creates it at version 1", async () => {
      const { shadows } = await setup();
      const id = fresh();
      expect(await Effect.runPromise(shadows.get(id))).toEqual(Option.none());
      const written = await run(shadows.updateDesired(id, { sensor: { sample_rate_hz: 50 } }));
      expect(written).toEqual(Either.right({ version: 1 }));
      const got = Option.getOrThrow(await Effect.runPromise(shadows.get(id)));
      expect(got).toMatchObject({
        version: 1,
        desired: { sensor: { sample_rate_hz: 50 } },
        reported: undefined,
        delta: { sensor: { sample_rate_hz: 50 } },
        reportedAt: undefined,
      });
      expect(got.desiredAt).toBeGreaterThan(Date.now() - 60_000);
    });

    it("desired writes merge, null removes; the delta is what reported lacks", async () => {
      const { shadows, report } = await setup();
      const id = fresh();
      await run(
        shadows.updateDesired(id, {
          sensor: { sample_rate_hz: 50 },
          publish: { interval_ms: 5000 },
        }),
      );
      await report(id, { sensor: { sample_rate_hz: 50 }, publish: { interval_ms: 1000 } });
      await run(shadows.updateDesired(id, { publish: { status_interval_ms: 60000 } }));
      await run(shadows.updateDesired(id, { sensor: null }));
      const got = Option.getOrThrow(await Effect.runPromise(shadows.get(id)));
      expect(got).toMatchObject({
        version: 4,
        desired: { publish: { interval_ms: 5000, status_interval_ms: 60000 } },
        reported: { sensor: { sample_rate_hz: 50 }, publish: { interval_ms: 1000 } },
        delta: { publish: { interval_ms: 5000, status_interval_ms: 60000 } },
      });
      expect(got.reportedAt).toBeGreaterThan(Date.now() - 60_000);
    });

    it("refusals carry the service's code and message: 413 over 8 KB, 400 too deep", async () => {
      const { shadows } = await setup();
      const id = fresh();
      const big = await run(shadows.updateDesired(id, { note: "x".repeat(9000) }));
      expect(Either.isLeft(big) && big.left).toMatchObject({
        _tag: "DeviceShadowRejected",
        deviceId: id,
        code: 413,
        reason: expect.stringContaining("The payload exceeds the maximum size allowed"),
      });
      const deep = await run(
        shadows.updateDesired(id, { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } }),
      );
      expect(Either.isLeft(deep) && deep.left).toMatchObject({ code: 400 });
      // Nothing was written.
      expect(await Effect.runPromise(shadows.get(id))).toEqual(Option.none());
    });
  });
