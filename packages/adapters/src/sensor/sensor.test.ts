import { describe, expect, it } from "vitest";
import {
  ADXL345_DEVID,
  Adxl345Sensor,
  DATA_FORMAT_FULL_RES_16G,
  FIFO_BYPASS,
  FIFO_STREAM,
  G_PER_LSB,
  POWER_CTL_MEASURE,
  REG,
} from "./adxl345.js";
import { Adxl345Simulator } from "./adxl345-simulator.js";
import { SensorError } from "./sensor.js";
import { SyntheticSensor } from "./synthetic.js";

const clock = (start = 1_731_622_400_000) => {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
};

/** Drains every `stepMs` for `totalMs` of virtual time. */
const collect = async (
  sensor: { drain(): Promise<ReadonlyArray<{ timestamp: number }>> },
  c: ReturnType<typeof clock>,
  totalMs: number,
  stepMs: number,
) => {
  const out: Array<{ timestamp: number; x?: number; y?: number; z?: number }> = [];
  for (let elapsed = 0; elapsed < totalMs; elapsed += stepMs) {
    c.advance(stepMs);
    out.push(...(await sensor.drain()));
  }
  return out;
};

describe("ADXL345 driver on the register-level simulator", () => {
  it("refuses a chip whose DEVID is not 0xE5, naming what it read", async () => {
    const c = clock();
    const sensor = new Adxl345Sensor(new Adxl345Simulator({ now: c.now, devId: 0x00 }), {
      now: c.now,
    });
    await expect(sensor.start(10)).rejects.toThrow(SensorError);
    await expect(sensor.start(10)).rejects.toThrow(/DEVID is 0x0, expected 0xe5/);
  });

  it("configures the chip as the datasheet says", async () => {
    const c = clock();
    const sim = new Adxl345Simulator({ now: c.now });
    const sensor = new Adxl345Sensor(sim, { now: c.now });
    await sensor.start(100);
    expect(sim.registers.get(REG.BW_RATE)).toBe(0x0a);
    expect(sim.registers.get(REG.DATA_FORMAT)).toBe(DATA_FORMAT_FULL_RES_16G);
    expect(sim.registers.get(REG.POWER_CTL)).toBe(POWER_CTL_MEASURE);
    expect(sim.registers.get(REG.FIFO_CTL)).toBe(FIFO_STREAM);
    await sensor.setRate(10);
    expect(sim.registers.get(REG.BW_RATE)).toBe(0x07); // 12.5 Hz, the next chip rate above 10
    expect(sim.registers.get(REG.FIFO_CTL)).toBe(FIFO_BYPASS);
    expect(ADXL345_DEVID).toBe(0xe5);
  });

  it("converts raw LSBs at 3.9 mg, negative values and the ±16 g extremes included", async () => {
    const c = clock();
    let g = { x: -0.5, y: 15.9, z: -16 };
    const sim = new Adxl345Simulator({ now: c.now, signal: () => g });
    const sensor = new Adxl345Sensor(sim, { now: c.now });
    await sensor.start(100);
    const [first] = await collect(sensor, c, 20, 20);
    expect(first).toMatchObject({
      x: Math.round(-0.5 / G_PER_LSB) * G_PER_LSB,
      y: Math.round(15.9 / G_PER_LSB) * G_PER_LSB,
      z: -4096 * G_PER_LSB,
    });
    g = { x: 0, y: 0, z: 1 };
  });

  for (const rate of [10, 12.5, 25, 50, 100, 200, 400]) {
    it(`at ${rate} Hz gives every reading at the cadence`, async () => {
      const c = clock();
      const sensor = new Adxl345Sensor(new Adxl345Simulator({ now: c.now }), { now: c.now });
      await sensor.start(rate);
      // As the agent drains: FIFO rates every 16 samples, polled rates at twice the rate.
      const step =
        rate >= 50
          ? Math.min(100, Math.max(10, Math.floor((16 * 1000) / rate)))
          : Math.max(10, Math.floor(500 / rate));
      const readings = await collect(sensor, c, 10_000, step);
      expect(Math.abs(readings.length - rate * 10)).toBeLessThanOrEqual(2);
      const period = 1000 / rate;
      const gaps = readings
        .slice(1)
        .map((r, i) => r.timestamp - (readings[i] as { timestamp: number }).timestamp);
      for (const gap of gaps) expect(Math.abs(gap - period)).toBeLessThanOrEqual(1);
      expect(sensor.health()).toMatchObject({ healthy: true, lost: 0 });
    });
  }

  it("detects a FIFO overflow, counts the lost readings and re-anchors the timestamps", async () => {
    const c = clock();
    const sim = new Adxl345Simulator({ now: c.now });
    const sensor = new Adxl345Sensor(sim, { now: c.now });
    await sensor.start(400);
    await collect(sensor, c, 200, 20);
    c.advance(1_000); // nobody drained for a second: 400 samples into 32 places
    const late = await sensor.drain();
    expect(late).toHaveLength(32);
    expect(sim.overflowed).toBeGreaterThan(300);
    expect(sensor.health().lost).toBeGreaterThan(300);
    expect(
      Math.abs((late.at(-1) as { timestamp: number }).timestamp - c.now()),
    ).toBeLessThanOrEqual(3);
  });

  it("marks itself unhealthy on bus errors, backs off, and recovers when they stop", async () => {
    const c = clock();
    const sim = new Adxl345Simulator({ now: c.now });
    const sensor = new Adxl345Sensor(sim, { now: c.now, backoffMs: 100 });
    await sensor.start(50);
    sim.failNext(3, "ENXIO");
    c.advance(100);
    expect(await sensor.drain()).toEqual([]);
    expect(sensor.health()).toMatchObject({
      healthy: false,
      lastError: expect.stringContaining("ENXIO"),
      errorCount: 1,
    });
    c.advance(50); // inside the backoff: no bus traffic
    expect(await sensor.drain()).toEqual([]);
    for (let i = 0; i < 10; i++) {
      c.advance(400);
      await sensor.drain();
    }
    expect(sensor.health()).toMatchObject({ healthy: true, errorCount: 3 });
    c.advance(100);
    expect((await sensor.drain()).length).toBeGreaterThan(0);
  });

  it("a rate change that fails half-way leaves the sensor unhealthy at its old rate, and re-initialises the chip", async () => {
    const c = clock();
    const sim = new Adxl345Simulator({ now: c.now });
    const sensor = new Adxl345Sensor(sim, { now: c.now, backoffMs: 100 });
    await sensor.start(10);
    await collect(sensor, c, 1_000, 50);
    // DEVID and the write that puts the chip in standby succeed, the rate's write fails.
    sim.failNext(1, "EIO", 2);
    await expect(sensor.setRate(100)).rejects.toThrow(/simulated EIO/);
    expect(sim.registers.get(REG.POWER_CTL)).toBe(0x00); // in standby, as the bus left it
    expect(sensor.health()).toMatchObject({
      healthy: false,
      lastError: expect.stringContaining("EIO"),
      errorCount: 1,
    });
    expect(await sensor.drain()).toEqual([]); // within the backoff
    c.advance(100);
    await sensor.drain(); // re-initialises, at 10 Hz: the rate the agent still has
    expect(sim.registers.get(REG.POWER_CTL)).toBe(POWER_CTL_MEASURE);
    expect(sim.registers.get(REG.BW_RATE)).toBe(0x07);
    expect(sim.registers.get(REG.FIFO_CTL)).toBe(FIFO_BYPASS);
    const readings = await collect(sensor, c, 2_000, 50);
    expect(readings).toHaveLength(20);
    expect(sensor.health()).toMatchObject({ healthy: true, errorCount: 1 });
  });

  it("a failed start is unhealthy with its error, and retried by drain", async () => {
    const c = clock();
    const sim = new Adxl345Simulator({ now: c.now });
    const sensor = new Adxl345Sensor(sim, { now: c.now, backoffMs: 100 });
    sim.failNext(1, "ENXIO", 3);
    await expect(sensor.start(100)).rejects.toThrow(/ENXIO/);
    expect(sensor.health()).toMatchObject({
      healthy: false,
      lastError: expect.stringContaining("ENXIO"),
    });
    c.advance(100);
    await sensor.drain();
    expect(sim.registers.get(REG.FIFO_CTL)).toBe(FIFO_STREAM);
    expect((await collect(sensor, c, 1_000, 100)).length).toBeGreaterThanOrEqual(99);
    expect(sensor.health().healthy).toBe(true);
  });

  it("returns the readings drained before a bus error and counts the rest as lost", async () => {
    const c = clock();
    const sim = new Adxl345Simulator({ now: c.now });
    const sensor = new Adxl345Sensor(sim, { now: c.now, backoffMs: 100 });
    await sensor.start(100);
    c.advance(100); // 10 samples in the FIFO
    sim.failNext(1, "EIO", 1 + 4); // FIFO_STATUS and 4 readings succeed, the 5th fails
    const partial = await sensor.drain();
    expect(partial).toHaveLength(4);
    expect(partial.map((r) => r.timestamp - c.now())).toEqual([-90, -80, -70, -60]);
    expect(sensor.health()).toMatchObject({ healthy: false, lost: 6, errorCount: 1 });
  });

  it("runs a rate change and drains one at a time on the bus", async () => {
    const c = clock();
    const sim = new Adxl345Simulator({ now: c.now });
    // A bus that takes its time, and a log of what went over it.
    const ops: Array<string> = [];
    const slow =
      <A extends Array<unknown>, R>(name: string, f: (...a: A) => Promise<R>) =>
      async (...a: A) => {
        await new Promise((r) => setImmediate(r));
        ops.push(`${name} 0x${(a[1] as number).toString(16)}`);
        return f(...a);
      };
    const bus = {
      readByte: slow("read", sim.readByte.bind(sim)),
      writeByte: slow("write", sim.writeByte.bind(sim)),
      readI2cBlock: slow("block", sim.readI2cBlock.bind(sim)),
      close: () => sim.close(),
    };
    const sensor = new Adxl345Sensor(bus, { now: c.now });
    await sensor.start(100);
    c.advance(100);
    ops.length = 0;
    const [before] = await Promise.all([sensor.drain(), sensor.setRate(10)]);
    expect(before).toHaveLength(10); // the FIFO, drained before the change emptied it
    const configuring = ops.indexOf(`write 0x${REG.POWER_CTL.toString(16)}`);
    expect(ops.slice(0, configuring).filter((o) => o.startsWith("block"))).toHaveLength(10);
    expect(ops.slice(configuring).some((o) => o.startsWith("block"))).toBe(false);
    expect(sensor.health()).toMatchObject({ healthy: true, errorCount: 0 });
  });

  it("keeps the chip's cadence at 100 Hz with the FIFO whatever the drain timer's jitter (p99 < 2 ms)", async () => {
    const c = clock();
    const sensor = new Adxl345Sensor(new Adxl345Simulator({ now: c.now }), { now: c.now });
    await sensor.start(100);
    const readings: Array<{ timestamp: number }> = [];
    for (let i = 0; i < 500; i++) {
      c.advance(60 + ((i * 37) % 41)); // 60..100 ms between drains
      readings.push(...(await sensor.drain()));
    }
    const jitter = readings
      .slice(1)
      .map((r, i) => Math.abs(r.timestamp - (readings[i] as { timestamp: number }).timestamp - 10))
      .sort((a, b) => a - b);
    expect(jitter[Math.floor(jitter.length * 0.99)]).toBeLessThan(2);
  });
});

describe("synthetic sensor", () => {
  it("is deterministic for a seed, exact in cadence, gravity plus gait within ±16 g", async () => {
    const run = async (seed: number) => {
      const c = clock();
      const s = new SyntheticSensor(seed, c.now);
      await s.start(50);
      return collect(s, c, 5_000, 100);
    };
    const a = await run(7);
    expect(await run(7)).toEqual(a);
    expect(await run(8)).not.toEqual(a);
    expect(a).toHaveLength(250);
    for (const [i, r] of a.entries()) {
      expect(r.timestamp).toBe((a[0] as { timestamp: number }).timestamp + i * 20);
    }
    const magnitudes = a.map((r) => {
      const { x, y, z } = r as unknown as { x: number; y: number; z: number };
      return Math.hypot(x, y, z);
    });
    expect(Math.min(...magnitudes)).toBeGreaterThan(0.5);
    expect(Math.max(...magnitudes)).toBeLessThan(2);
  });
});
