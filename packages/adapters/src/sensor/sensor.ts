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

/** The sensor port the device agent drains; it never blocks on the network and never throws from `drain`. */
export interface MotionSensor {
  readonly model: string;
  start(rateHz: number): Promise<void>;
  setRate(rateHz: number): Promise<void>;
  /** Every reading since the last drain, oldest first; errors show in `health()`. */
  drain(): Promise<ReadonlyArray<MotionReading>>;
  health(): SensorHealth;
  close(): Promise<void>;
}
