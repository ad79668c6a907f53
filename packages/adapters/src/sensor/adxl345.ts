import { Effect, Predicate } from "effect";
import {
  type MotionReading,
  type MotionSensorService,
  motionSensorLayer,
  SensorError,
  type SensorHealth,
} from "./sensor.js";

/** The subset of `i2c-bus`'s promisified bus the driver uses. */
export interface I2cBus {
  readByte(address: number, command: number): Promise<number>;
  writeByte(address: number, command: number, byte: number): Promise<void>;
  readI2cBlock(
    address: number,
    command: number,
    length: number,
    buffer: Buffer,
  ): Promise<{ bytesRead: number; buffer: Buffer }>;
  close(): Promise<void>;
}

export const REG = {
  DEVID: 0x00,
  BW_RATE: 0x2c,
  POWER_CTL: 0x2d,
  DATA_FORMAT: 0x31,
  DATAX0: 0x32,
  FIFO_CTL: 0x38,
  FIFO_STATUS: 0x39,
} as const;
export const ADXL345_DEVID = 0xe5;
export const ADXL345_ADDRESS = 0x53;
/** Full resolution: 3.9 mg per LSB in every range (datasheet). */
export const G_PER_LSB = 0.0039;
/** DATA_FORMAT: FULL_RES (bit 3) and ±16 g (range bits 11). */
export const DATA_FORMAT_FULL_RES_16G = 0x0b;
export const POWER_CTL_MEASURE = 0x08;
/** FIFO_CTL: stream mode (bits 7:6 = 10), watermark 16. */
export const FIFO_STREAM = 0x80 | 16;
export const FIFO_BYPASS = 0x00;
export const FIFO_SIZE = 32;

/** Output data rates and their BW_RATE codes (datasheet table 7). */
export const RATE_CODES: ReadonlyArray<readonly [number, number]> = [
  [6.25, 0x06],
  [12.5, 0x07],
  [25, 0x08],
  [50, 0x09],
  [100, 0x0a],
  [200, 0x0b],
  [400, 0x0c],
  [800, 0x0d],
];

/**
 * At 50 Hz and above the chip's FIFO (stream mode) keeps the samples at the
 * chip's own cadence, however late the agent drains them; below that a timer
 * reads the latest value (bypass mode): the agent drains at twice the rate
 * there, so every sample instant is read once. Rates the chip does not have (10 Hz) run the chip at the next higher
 * rate and are polled.
 */
const FIFO_FROM_HZ = 50;

const chipRateFor = (hz: number): readonly [number, number] =>
  RATE_CODES.find(([rate]) => rate >= hz - 1e-9) ??
  (RATE_CODES.at(-1) as readonly [number, number]);

const text = (e: unknown) =>
  e instanceof Error ? `${(e as NodeJS.ErrnoException).code ?? e.name}: ${e.message}` : String(e);

/**
 * The ADXL345 over I2C. Bus errors (EIO, NACK) mark it unhealthy and are
 * retried with exponential backoff, re-initialising the chip; `drain` never
 * throws. Bus transactions run one at a time, so a rate change never
 * interleaves with a drain or a re-initialisation.
 */
export class Adxl345Sensor implements MotionSensorService {
  readonly model = "ADXL345";
  /** The rate the chip runs at, or is re-initialised to after a failure. */
  private rateHz = 10;
  private fifo = false;
  private last = 0;
  private next = 0;
  private ready = false;
  private errorCount = 0;
  private lost = 0;
  private lastError: string | undefined;
  private retryAt = 0;
  private failures = 0;
  private readonly block = Buffer.alloc(6);
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bus: I2cBus,
    private readonly options: {
      readonly address?: number;
      readonly now?: () => number;
      readonly backoffMs?: number;
    } = {},
  ) {}

  private get address() {
    return this.options.address ?? ADXL345_ADDRESS;
  }
  private now() {
    return (this.options.now ?? Date.now)();
  }

  /** One bus transaction after the other, whatever the caller awaits. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const run = this.queue.then(f, f);
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * Verifies the chip and configures it; a wrong DEVID or a bus error is a
   * `SensorError`. A failure leaves the sensor unhealthy, and `drain` retries
   * at this rate.
   */
  start(rateHz: number): Promise<void> {
    return this.exclusive(async () => {
      this.rateHz = rateHz;
      await this.initialise(rateHz, this.now());
    });
  }

  /**
   * Re-configures the chip at another rate. When that fails the chip may be
   * left in standby: the sensor is then unhealthy, keeps its previous rate,
   * and `drain` re-initialises the chip at that rate after the backoff.
   */
  setRate(rateHz: number): Promise<void> {
    return this.exclusive(() => this.initialise(rateHz, this.now()));
  }

  /**
   * DEVID, then the configuration; on failure the sensor is not ready, the
   * failure counts, and a bus error (errno) is rejected as a `SensorError`
   * with its message.
   */
  private async initialise(rateHz: number, now: number) {
    this.ready = false; // from the first write on, the chip is in standby until all of it is done
    try {
      const devid = await this.bus.readByte(this.address, REG.DEVID);
      if (devid !== ADXL345_DEVID) {
        throw new SensorError({
          message: `no ADXL345 at 0x${this.address.toString(16)}: DEVID is 0x${devid.toString(16)}, expected 0xe5`,
        });
      }
      await this.configure(rateHz);
    } catch (e) {
      this.failed(e, now);
      throw Predicate.isTagged(e, "SensorError")
        ? e
        : new SensorError({ message: e instanceof Error ? e.message : String(e), cause: e });
    }
    this.recovered();
  }

  private async configure(rateHz: number) {
    const [, code] = chipRateFor(rateHz);
    const fifo = rateHz >= FIFO_FROM_HZ && RATE_CODES.some(([rate]) => rate === rateHz);
    await this.bus.writeByte(this.address, REG.POWER_CTL, 0x00); // standby while configuring
    await this.bus.writeByte(this.address, REG.BW_RATE, code);
    await this.bus.writeByte(this.address, REG.DATA_FORMAT, DATA_FORMAT_FULL_RES_16G);
    await this.bus.writeByte(this.address, REG.FIFO_CTL, fifo ? FIFO_STREAM : FIFO_BYPASS);
    await this.bus.writeByte(this.address, REG.POWER_CTL, POWER_CTL_MEASURE);
    this.rateHz = rateHz;
    this.fifo = fifo;
    this.last = this.now();
    this.next = this.last + 1000 / rateHz;
    this.ready = true;
  }

  drain(): Promise<ReadonlyArray<MotionReading>> {
    return this.exclusive(() => this.drainNow());
  }

  private async drainNow(): Promise<ReadonlyArray<MotionReading>> {
    const now = this.now();
    if (!this.ready) {
      if (now < this.retryAt) return [];
      try {
        await this.initialise(this.rateHz, now);
      } catch {
        return []; // counted, and retried after the backoff
      }
    }
    // Readings taken off the chip before a bus error are returned, not thrown away with it.
    const out: Array<MotionReading> = [];
    try {
      if (this.fifo) await this.drainFifo(now, out);
      else await this.poll(now, out);
      this.recovered();
    } catch (e) {
      this.failed(e, now);
      this.ready = false;
    }
    return out;
  }

  private async poll(now: number, out: Array<MotionReading>): Promise<void> {
    if (now < this.next) return;
    const period = 1000 / this.rateHz;
    const missed = Math.floor((now - this.next) / period);
    if (missed > 0) {
      this.lost += missed;
      this.next += missed * period;
    }
    out.push(await this.readOne(Math.round(this.next)));
    this.next += period;
  }

  private async drainFifo(now: number, out: Array<MotionReading>): Promise<void> {
    const entries = (await this.bus.readByte(this.address, REG.FIFO_STATUS)) & 0x3f;
    const period = 1000 / this.rateHz;
    // The chip's cadence continues from the last sample; re-anchor to the clock
    // after an overflow (samples were lost) or when the two drift apart.
    let t = this.last + period;
    const newest = t + (entries - 1) * period;
    if (entries >= FIFO_SIZE || Math.abs(newest - now) > 4 * period) {
      if (entries >= FIFO_SIZE)
        this.lost += Math.max(0, Math.round((now - this.last) / period) - entries);
      t = now - (entries - 1) * period;
    }
    let read = 0;
    try {
      for (; read < entries; read++) {
        out.push(await this.readOne(Math.round(t)));
        this.last = t;
        t += period;
      }
    } catch (e) {
      // The one that failed and those still in the FIFO go when the chip is re-initialised.
      this.lost += entries - read;
      throw e;
    }
  }

  /** DATAX0..DATAZ1 in one 6-byte block read: little-endian signed 16-bit. */
  private async readOne(timestamp: number): Promise<MotionReading> {
    const { bytesRead, buffer } = await this.bus.readI2cBlock(
      this.address,
      REG.DATAX0,
      6,
      this.block,
    );
    if (bytesRead !== 6) throw new SensorError({ message: `short read: ${bytesRead} of 6 bytes` });
    return {
      timestamp,
      x: buffer.readInt16LE(0) * G_PER_LSB,
      y: buffer.readInt16LE(2) * G_PER_LSB,
      z: buffer.readInt16LE(4) * G_PER_LSB,
    };
  }

  private failed(e: unknown, now: number) {
    this.errorCount++;
    this.failures++;
    this.lastError = text(e);
    const base = this.options.backoffMs ?? 100;
    this.retryAt = now + Math.min(30_000, base * 2 ** (this.failures - 1));
  }

  private recovered() {
    this.failures = 0;
    this.lastError = undefined;
  }

  health(): SensorHealth {
    return {
      healthy: this.ready && this.failures === 0,
      ...(this.lastError ? { lastError: this.lastError } : {}),
      errorCount: this.errorCount,
      lost: this.lost,
    };
  }

  close(): Promise<void> {
    return this.exclusive(async () => {
      await this.bus.writeByte(this.address, REG.POWER_CTL, 0x00).catch(() => {});
      await this.bus.close().catch(() => {});
    });
  }
}

/**
 * The ADXL345 on a real bus (`i2c-bus`, a native optional dependency loaded
 * only here), put in standby and its bus closed when the layer's scope closes.
 */
export const adxl345Layer = (options: { readonly busNumber: number; readonly address?: number }) =>
  motionSensorLayer(
    Effect.gen(function* () {
      const i2c = yield* Effect.tryPromise({
        try: () => import("i2c-bus"),
        catch: (e) =>
          new SensorError({
            message: `the i2c-bus module is not available (${text(e)}); use sensor kind "synthetic" on machines without I2C`,
          }),
      });
      const bus: I2cBus = yield* Effect.tryPromise({
        try: () => i2c.openPromisified(options.busNumber),
        catch: (e) =>
          new SensorError({ message: `cannot open /dev/i2c-${options.busNumber}: ${text(e)}` }),
      });
      return new Adxl345Sensor(
        bus,
        options.address !== undefined ? { address: options.address } : {},
      );
    }),
  );
