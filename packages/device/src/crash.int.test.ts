import { join } from "node:path";
import { runCommand } from "@medusa/adapters/testing";
import { parseSensorPayload, type Sample, samplesOf } from "@medusa/domain";
import { Either } from "effect";
import { afterAll, beforeAll, expect, it } from "vitest";
import { bundle } from "../scripts/bundle.mjs";
import { SEQUENCE_BLOCK } from "./batcher.js";
import {
  eventually,
  recordSamples,
  sleep,
  startBroker,
  testFolder,
  writeConfig,
} from "./testing/testbed.js";

// kill -9 at random moments: a crash loses about a second of samples at most, and never reuses a number.
const RATE_HZ = 50;
const PERIOD_MS = 1000 / RATE_HZ;
const INTERVAL_MS = 5_000; // a batch every 5 s: without the journal, a crash would lose up to 5 s
const KILLS = 4;
/** Samples at least this old when the agent was killed must have been delivered. */
const DURABLE_AFTER_MS = 1_500;

let folder: Awaited<ReturnType<typeof testFolder>>;
let agentBundle: string;
beforeAll(async () => {
  folder = await testFolder(["pi-crash"]);
  // The bundle the bin runs, built into the test's own folder.
  agentBundle = (await bundle({ outfile: join(folder.dir, "medusa-device.mjs"), quiet: true }))
    .outfile;
});
afterAll(() => folder.remove());

it("killed with kill -9 at random moments, restarted each time: about a second lost at most, no number reused", async () => {
  const broker = await startBroker(folder.certs);
  try {
    const seen = recordSamples(broker);
    const { path } = writeConfig(folder.dir, folder.certs, "pi-crash", broker.port, {
      rateHz: RATE_HZ,
      intervalMs: INTERVAL_MS,
      durability: "batch",
    });
    const runs: Array<{ killedAt?: number; output: string }> = [];
    const start = async () => {
      const agent = runCommand([agentBundle, "--config", path]);
      await eventually(
        () => agent.output().includes("medusa-device started"),
        "the agent to start",
        30_000,
      );
      return agent;
    };
    for (let k = 0; k < KILLS; k++) {
      const agent = await start();
      // Anywhere in the first or second publish interval, journal writes and flushes included —
      // but late enough that the run took samples older than DURABLE_AFTER_MS, which must be there.
      await sleep(DURABLE_AFTER_MS + 1_000 + Math.random() * 1.6 * INTERVAL_MS);
      const killedAt = Date.now();
      agent.child.kill("SIGKILL");
      expect(await agent.exited).not.toBe(0);
      runs.push({ killedAt, output: agent.output() });
    }
    const last = await start();
    await sleep(INTERVAL_MS + 1_000);
    last.child.kill("SIGTERM");
    expect(await last.exited).toBe(0);
    runs.push({ output: last.output() });
    await sleep(200);

    // Every sample delivered, by number: one number, one sample, however often it came.
    const bySequence = new Map<number, Sample>();
    for (const m of seen) {
      for (const s of samplesOf(Either.getOrThrow(parseSensorPayload(m.payload)), 0)) {
        const before = bySequence.get(s.sequence);
        if (before)
          expect(s, `sequence ${s.sequence} delivered with other samples`).toEqual(before);
        bySequence.set(s.sequence, s);
      }
    }
    const samples = [...bySequence.values()].sort((a, b) => a.sequence - b.sequence);
    // Numbers follow time: a restart continues above every number given before the crash.
    for (let i = 1; i < samples.length; i++)
      expect((samples[i] as Sample).timestamp).toBeGreaterThan(
        (samples[i - 1] as Sample).timestamp,
      );

    // A gap in the numbers is at most what was not journaled yet (about a second) and the rest of a reserved block.
    const gaps = samples
      .slice(1)
      .map((s, i) => s.sequence - (samples[i] as Sample).sequence - 1)
      .filter((gap) => gap > 0);
    expect(gaps.length).toBeLessThanOrEqual(KILLS);
    for (const gap of gaps) expect(gap).toBeLessThanOrEqual(SEQUENCE_BLOCK + 1.5 * RATE_HZ);

    // In time: each run's samples, from its first to DURABLE_AFTER_MS before its kill, are all there.
    const times = samples.map((s) => s.timestamp);
    for (const [k, run] of runs.entries()) {
      const killedAt = run.killedAt;
      if (killedAt === undefined) continue;
      const from = runs[k - 1]?.killedAt ?? 0;
      const during = times.filter((t) => t > from && t <= killedAt - DURABLE_AFTER_MS);
      expect(
        during.length,
        `run ${k + 1} delivered nothing it took\n${run.output}`,
      ).toBeGreaterThan(0);
      const holes = during
        .slice(1)
        .map((t, i) => [during[i] as number, t] as const)
        .filter(([a, b]) => b - a > PERIOD_MS + 1);
      expect(holes, `run ${k + 1}: samples missing between these times`).toEqual([]);
      const lastDelivered = times.filter((t) => t <= killedAt).at(-1) as number;
      expect(
        killedAt - lastDelivered,
        `run ${k + 1}: the last second before the kill`,
      ).toBeLessThanOrEqual(DURABLE_AFTER_MS);
    }
    // The last run stopped cleanly: everything it took arrived, and no numbers were skipped at its end.
    expect(runs.at(-1)?.output).toContain("medusa-device stopped");
  } finally {
    await broker.close();
  }
}, 180_000);
