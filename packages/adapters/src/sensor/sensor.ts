import { Context, Data, Effect, Layer } from "effect";

/** A reading as a sensor gives it: its own epoch-ms time, acceleration in g. */
export interface MotionReading {
  readonly timestamp: number;
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

export interface SensorHealth {
  readonly healthy: boolean;
  readonly lastError?: string;
  readonly errorCount: number;
  /** Readings known to be lost (FIFO overflow, missed polls). */
  readonly lost: number;
}

/**
 * The motion sensor as the device agent drains it. It never blocks on the
 * network and `drain` never rejects (errors show in `health()`); `start` and
 * `setRate` reject with `SensorError` when the chip cannot be configured.
 */
export interface MotionSensorService {
  readonly model: string;
  start(rateHz: number): Promise<void>;
  setRate(rateHz: number): Promise<void>;
  /** Every reading since the last drain, oldest first. */
  drain(): Promise<ReadonlyArray<MotionReading>>;
  health(): SensorHealth;
  /** Called by the layer that opened the sensor, when its scope closes. */
  close(): Promise<void>;
}

export class MotionSensor extends Context.Tag("@medusa/MotionSensor")<
  MotionSensor,
  MotionSensorService
>() {}

/** The sensor could not be found, opened or configured (a wiring, address or bus problem). */
export class SensorError extends Data.TaggedError("SensorError")<{
  readonly message: string;
  readonly cause?: unknown;
}> {}

/** The sensor `open` gives, closed when the layer's scope closes. */
export const motionSensorLayer = <E>(
  open: Effect.Effect<MotionSensorService, E>,
): Layer.Layer<MotionSensor, E> =>
  Layer.scoped(
    MotionSensor,
    Effect.acquireRelease(open, (sensor) => Effect.promise(() => sensor.close())),
  );
