/**
 * `pnpm bench:domain`: enrichment, replay and payload decoding throughput on
 * one core. Prints a table, then one JSON line with the figures.
 */
import { cpus } from "node:os";
import { Either } from "effect";
import {
  type AssignmentEvent,
  type AssignmentInterval,
  actor,
  deviceId,
  enrich,
  epochMillis,
  intervalsOf,
  parseSensorPayload,
  patientId,
  replay,
  type Sample,
} from "../src/index.js";

const T0 = 1_731_622_400_000;
const device = deviceId("bench-device");
const nurse = actor("nurse@clinic.example");

/** Best of `rounds` runs of `fn`, in seconds. */
const best = (rounds: number, fn: () => void): number => {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    fn();
    min = Math.min(min, Number(process.hrtime.bigint() - start) / 1e9);
  }
  return min;
};

/** A log of `n` events: assign / end pairs, one hour each with gaps. */
const eventLog = (n: number): Array<AssignmentEvent> => {
  const events: Array<AssignmentEvent> = [];
  for (let i = 0; events.length < n; i++) {
    const start = T0 + i * 3_600_000;
    const patient = patientId(`P-${i % 97}`);
    events.push({
      _tag: "DeviceAssigned",
      deviceId: device,
      patientId: patient,
      assignedBy: nurse,
      at: epochMillis(start),
      patientName: `Patient ${i % 97}`,
    });
    if (events.length < n) {
      events.push({
        _tag: "AssignmentEnded",
        deviceId: device,
        patientId: patient,
        start: epochMillis(start),
        endedBy: nurse,
        at: epochMillis(start + 3_000_000),
        reason: "completed",
      });
    }
  }
  return events;
};

// Enrichment: 1,000,000 samples at 10 Hz against 1,000 intervals (2,000 events).
const intervals: ReadonlyArray<AssignmentInterval> = intervalsOf(eventLog(2_000));
const span = 1_000 * 3_600_000;
const N_SAMPLES = 1_000_000;
const samples: Array<Sample> = Array.from({ length: N_SAMPLES }, (_, i) => ({
  timestamp: epochMillis(T0 + Math.floor((i * span) / N_SAMPLES)),
  sequence: i,
  x: 0.01,
  y: -0.02,
  z: 0.98,
  magnitude: 0.9802,
}));
let segments = 0;
const enrichS = best(5, () => {
  segments = 0;
  // As ingest sees them: batches of 10 samples.
  for (let i = 0; i < N_SAMPLES; i += 10)
    segments += enrich(device, samples.slice(i, i + 10), intervals).length;
});
const enrichWholeS = best(5, () => {
  enrich(device, samples, intervals);
});

// Replay: a 100,000-event stream.
const log = eventLog(100_000);
const replayS = best(10, () => {
  replay(log);
});

// Decoding: JSON text of single readings (as existing devices publish them) through JSON.parse + schema.
const N_PAYLOADS = 200_000;
const payloads = Array.from({ length: 1_000 }, (_, i) =>
  JSON.stringify({
    x: 0.012 + i / 1e5,
    y: -0.023,
    z: 0.984,
    magnitude: 0.9843,
    temperature: 24.5,
    sequence: i,
    timestamp: T0 + i * 100,
  }),
);
let rejected = 0;
const decodeS = best(3, () => {
  for (let i = 0; i < N_PAYLOADS; i++)
    if (Either.isLeft(parseSensorPayload(payloads[i % 1_000] as string))) rejected++;
});
if (rejected > 0) throw new Error(`${rejected} benchmark payloads were rejected`);

const figures = {
  enrich_samples_per_s: Math.round(N_SAMPLES / enrichS),
  replay_events_per_s: Math.round(log.length / replayS),
  decode_payloads_per_s: Math.round(N_PAYLOADS / decodeS),
};
const rows: Array<[string, string, string, string]> = [
  [
    "enrich (batches of 10)",
    `${N_SAMPLES.toLocaleString("en")} samples, ${intervals.length} intervals`,
    `${figures.enrich_samples_per_s.toLocaleString("en")} samples/s`,
    "≥ 5,000,000",
  ],
  [
    "enrich (one call)",
    `${N_SAMPLES.toLocaleString("en")} samples`,
    `${Math.round(N_SAMPLES / enrichWholeS).toLocaleString("en")} samples/s`,
    "",
  ],
  [
    "replay",
    `${log.length.toLocaleString("en")} events`,
    `${figures.replay_events_per_s.toLocaleString("en")} events/s`,
    "≥ 1,000,000",
  ],
  [
    "decode single reading",
    `${N_PAYLOADS.toLocaleString("en")} payloads`,
    `${figures.decode_payloads_per_s.toLocaleString("en")} payloads/s`,
    "≥ 200,000",
  ],
];
console.log(
  `@medusa/domain benchmark — Node ${process.version}, ${cpus()[0]?.model ?? "unknown CPU"}, one core, best of several runs`,
);
console.log(`segments produced per pass: ${segments.toLocaleString("en")}\n`);
const widths = [0, 1, 2, 3].map((c) =>
  Math.max(
    ...[["what", "input", "throughput", "target"], ...rows].map((r) => (r[c] as string).length),
  ),
);
for (const row of [["what", "input", "throughput", "target"], ...rows]) {
  console.log(row.map((cell, c) => cell.padEnd(widths[c] as number)).join("  "));
}
console.log(JSON.stringify(figures));
