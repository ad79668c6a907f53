import { type DynamoStores, makeDynamoStores, type TableNames } from "@medusa/adapters";
import { testTables } from "@medusa/adapters/testing";
import {
  type ActivityBlock,
  activityBlocksOf,
  attribute,
  BLOCK_MS,
  blockStartOf,
  CONTEXT_MS,
  DEFAULT_EPOCH_MS,
  deviceId,
  epochMillis,
  keepingActivity,
  patientId,
  sameMetrics,
} from "@medusa/domain";
import { record, walking } from "@medusa/domain/testing";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { main, parseCommandLine } from "./cli.js";

/** 2030-01-07: DynamoDB Local's TTL sweeper leaves the fixtures alone. */
const DAY = Date.UTC(2030, 0, 7);
const MIN = 60_000;
const HOUR = 60 * MIN;
const RETENTION = 30 * 86_400_000;
const options = { epochMs: DEFAULT_EPOCH_MS, retentionMs: RETENTION };
const device = deviceId("medusa-pi-recompute");
const P1 = patientId("P-recompute-1");
const P2 = patientId("P-recompute-2");

let endpoint: string;
let tables: TableNames;
let stores: DynamoStores;
let drop: () => Promise<void>;

const run = async (argv: Array<string>) => {
  let out = "";
  let err = "";
  const prefix = tables.sensor.slice(0, tables.sensor.indexOf("medusa-"));
  const code = await main([...argv, "--endpoint", endpoint], {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    env: { MEDUSA_TABLE_PREFIX: prefix },
  });
  return { code, out, err };
};

/** Every stored block of the device in the range against the samples attributed now: the blocks that differ. */
const stale = async (from: number, to: number): Promise<number> => {
  const range = { start: from, end: to };
  const stored = await Effect.runPromise(stores.activity.deviceBlocks(device, range));
  const segments = await Effect.runPromise(
    stores.sensors.deviceSegments(device, { start: from - CONTEXT_MS, end: to + CONTEXT_MS }),
  );
  const starts: Array<number> = [];
  for (let b = blockStartOf(from); b < to; b += BLOCK_MS) starts.push(b);
  const truth = activityBlocksOf(device, segments, starts, options);
  const key = (b: ActivityBlock) => `${b.start}/${b.patientId}`;
  const byKey = new Map(stored.map((b) => [key(b), b]));
  let wrong = 0;
  for (const b of truth) {
    const s = byKey.get(key(b));
    byKey.delete(key(b));
    if (!s || !sameMetrics(s, b) || s.ttl !== b.ttl) wrong++;
  }
  return wrong + byKey.size;
};

beforeAll(async () => {
  endpoint = inject("dynamoEndpoint");
  const t = await testTables(endpoint);
  ({ tables, drop } = t);
  stores = makeDynamoStores({ client: t.client, tables });
  const kept = keepingActivity(stores.sensors, stores.activity, options);
  const intervals = {
    version: 2,
    intervals: [
      {
        deviceId: device,
        patientId: P1,
        assignedBy: "nurse@clinic.example" as never,
        start: epochMillis(DAY - MIN),
        end: epochMillis(DAY + HOUR + 20_000),
      },
      {
        deviceId: device,
        patientId: P2,
        assignedBy: "nurse@clinic.example" as never,
        start: epochMillis(DAY + HOUR + 20_000),
        end: null,
      },
    ],
  };
  const samples = record(
    { start: DAY, durationMs: 2 * HOUR, oversample: 1 },
    walking({ cadence: 105, amplitude: 0.4, seed: 5 }).motion,
  );
  // The first 90 minutes with their activity kept; the last 30 minutes stored without it
  // (as when the activity function's batch ended in its failure queue).
  const cut = samples.findIndex((s) => s.timestamp >= DAY + 90 * MIN);
  for (let i = 0; i < samples.length; i += 1_200) {
    const part = samples.slice(i, i + 1_200);
    const target = i < cut ? kept : stores.sensors;
    await Effect.runPromise(
      target.write(attribute(device, part, intervals, { retentionMs: RETENTION })),
    );
  }
  // A block's figures changed behind the function's back, and a block of a patient who has
  // no samples there: both stale.
  const [first] = await Effect.runPromise(
    stores.activity.deviceBlocks(device, { start: DAY, end: DAY + BLOCK_MS }),
  );
  if (!first) throw new Error("no block stored");
  await Effect.runPromise(
    stores.activity.apply(
      device,
      [
        {
          ...first,
          epochs: first.epochs.map((e) => ({ ...e, steps: e.steps + 7 })),
        },
        { ...first, start: DAY + 2 * BLOCK_MS, patientId: P2 },
      ],
      [],
    ),
  );
}, 120_000);

afterAll(async () => {
  await drop?.();
});

describe("medusa-activity recompute", () => {
  it("makes stale blocks equal to the recomputation from the samples, then writes nothing", async () => {
    const from = DAY - HOUR;
    const to = DAY + 3 * HOUR;
    expect(await stale(from, to)).toBeGreaterThanOrEqual(4);
    const first = await run([
      "recompute",
      "--device",
      device,
      "--from",
      new Date(DAY).toISOString(),
      "--to",
      new Date(DAY + 2 * HOUR).toISOString(),
      "--retention-days",
      "30",
    ]);
    expect(first.err).toBe("");
    expect(first.code).toBe(0);
    expect(first.out).toMatch(
      /medusa-pi-recompute: \d+ blocks computed again, \d+ written, 1 removed/,
    );
    expect(await stale(from, to)).toBe(0);
    // Idempotent: a second run finds every block right.
    const again = await run([
      "recompute",
      "--device",
      device,
      "--from",
      new Date(DAY).toISOString(),
      "--to",
      new Date(DAY + 2 * HOUR).toISOString(),
    ]);
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/blocks computed again, 0 written, 0 removed/);
  }, 120_000);

  it("refuses a bad command line, naming what is wrong", async () => {
    const bad = async (argv: Array<string>, says: RegExp) => {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(says);
    };
    await bad(
      ["recompute", "--from", "2030-01-07T00:00:00Z", "--to", "2030-01-08T00:00:00Z"],
      /--device is required/,
    );
    await bad(
      ["recompute", "--device", "d 1", "--from", "2030-01-07", "--to", "2030-01-08"],
      /--device d 1: not a device id/,
    );
    await bad(
      ["recompute", "--device", "d1", "--from", "2030-01-07T10:00", "--to", "2030-01-08"],
      /--from 2030-01-07T10:00: an ISO 8601 date or time with its zone/,
    );
    await bad(
      ["recompute", "--device", "d1", "--from", "2030-01-08", "--to", "2030-01-07"],
      /--to must be after --from/,
    );
    await bad(["rebuild"], /unknown command rebuild/);
    expect(parseCommandLine(["--help"])).toEqual({ help: true });
    expect(
      parseCommandLine(
        [
          "recompute",
          "--device",
          "a",
          "--device",
          "b",
          "--from",
          "2030-01-07",
          "--to",
          "2030-01-08",
          "--stage",
          "prod",
        ],
        {},
      ),
    ).toMatchObject({
      devices: ["a", "b"],
      env: { MEDUSA_TABLE_PREFIX: "prod-" },
      retentionMs: RETENTION,
    });
  });
});
