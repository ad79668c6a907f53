import { ADXL345_DEVID, FIFO_SIZE, G_PER_LSB, type I2cBus, RATE_CODES, REG } from "./adxl345.js";

export interface SimulatorOptions {
  readonly now?: () => number;
  readonly devId?: number;
  /** The signal in g at time t (ms); default: gravity on z and a slow sine on x. */
  readonly signal?: (t: number) => { x: number; y: number; z: number };
}

const errno = (code: string, message: string) => Object.assign(new Error(message), { code });

/**
 * A register-level ADXL345 behind the `I2cBus` interface, for tests and
 * benchmarks: it samples its signal at the configured output data rate from
 * the given clock, fills the 32-entry FIFO in stream mode (the oldest sample
 * is lost on overflow) or holds the latest sample in bypass mode, and can be
 * told to fail.
 */
export class Adxl345Simulator implements I2cBus {
  readonly registers = new Map<number, number>([
    [REG.BW_RATE, 0x0a],
    [REG.POWER_CTL, 0x00],
    [REG.DATA_FORMAT, 0x00],
    [REG.FIFO_CTL, 0x00],
  ]);
  private fifo: Array<Buffer> = [];
  private latest = Buffer.alloc(6);
  private sampledUntil = 0;
  /** Samples pushed out of a full FIFO. */
  overflowed = 0;
  private faults: Array<{ code: string; remaining: number; skip: number }> = [];
  private readonly now: () => number;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  /**
   * The next `count` bus operations fail with `code` (`EIO`, or `ENXIO` for a
   * NACK), after `after` more that succeed (to fail in the middle of a
   * configuration or a FIFO drain).
   */
  failNext(count: number, code: "EIO" | "ENXIO" | "EREMOTEIO" = "EIO", after = 0) {
    this.faults.push({ code, remaining: count, skip: after });
  }

  get odrHz(): number {
    const code = (this.registers.get(REG.BW_RATE) ?? 0x0a) & 0x0f;
    return RATE_CODES.find(([, c]) => c === code)?.[0] ?? 100;
  }

  private get measuring() {
    return ((this.registers.get(REG.POWER_CTL) ?? 0) & 0x08) !== 0;
  }
  private get streaming() {
    return ((this.registers.get(REG.FIFO_CTL) ?? 0) & 0xc0) === 0x80;
  }

  private fault() {
    const f = this.faults[0];
    if (!f) return;
    if (f.skip > 0) {
      f.skip--;
      return;
    }
    f.remaining--;
    if (f.remaining <= 0) this.faults.shift();
    throw errno(f.code, `simulated ${f.code}`);
  }

  private encode(g: number) {
    return Math.max(-4096, Math.min(4095, Math.round(g / G_PER_LSB)));
  }

  /** Takes every sample due up to now. */
  private advance() {
    const now = this.now();
    if (!this.measuring) {
      this.sampledUntil = now;
      return;
    }
    const period = 1000 / this.odrHz;
    while (this.sampledUntil + period <= now) {
      this.sampledUntil += period;
      const g = (
        this.options.signal ??
        ((t: number) => ({ x: 0.1 * Math.sin((2 * Math.PI * t) / 2000), y: 0, z: 1 }))
      )(this.sampledUntil);
      const b = Buffer.alloc(6);
      b.writeInt16LE(this.encode(g.x), 0);
      b.writeInt16LE(this.encode(g.y), 2);
      b.writeInt16LE(this.encode(g.z), 4);
      this.latest = b;
      if (this.streaming) {
        this.fifo.push(b);
        if (this.fifo.length > FIFO_SIZE) {
          this.fifo.shift();
          this.overflowed++;
        }
      }
    }
  }

  async readByte(_address: number, command: number): Promise<number> {
    this.fault();
    if (command === REG.DEVID) return this.options.devId ?? ADXL345_DEVID;
    this.advance();
    if (command === REG.FIFO_STATUS) return Math.min(this.fifo.length, FIFO_SIZE);
    return this.registers.get(command) ?? 0;
  }

  async writeByte(_address: number, command: number, byte: number): Promise<void> {
    this.fault();
    this.advance();
    this.registers.set(command, byte);
    if (command === REG.FIFO_CTL || command === REG.POWER_CTL) {
      this.fifo = [];
      this.sampledUntil = this.now();
    }
  }

  async readI2cBlock(
    _address: number,
    command: number,
    length: number,
    buffer: Buffer,
  ): Promise<{ bytesRead: number; buffer: Buffer }> {
    this.fault();
    if (command !== REG.DATAX0 || length !== 6)
      throw errno("EIO", "the simulator only serves DATAX0..DATAZ1");
    this.advance();
    const sample = this.streaming ? (this.fifo.shift() ?? this.latest) : this.latest;
    sample.copy(buffer);
    return { bytesRead: 6, buffer };
  }

  async close(): Promise<void> {}
}
