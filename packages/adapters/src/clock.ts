import { Clock, type EpochMillis } from "@medusa/domain";
import { Effect, Layer } from "effect";

/** The machine's clock. */
export const systemClock: Layer.Layer<Clock> = Layer.succeed(Clock, {
  now: Effect.sync(() => Date.now() as EpochMillis),
});

/** A clock that reads `now` (tests and benchmarks set the time). */
export const clockFrom = (now: () => number): Layer.Layer<Clock> =>
  Layer.succeed(Clock, { now: Effect.sync(() => now() as EpochMillis) });
