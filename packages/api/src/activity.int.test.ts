import {
  type ActivityBlock,
  attribute,
  BLOCK_MS,
  DEFAULT_EPOCH_MS,
  type DeviceId,
  deviceId,
  epochMillis,
  keepingActivity,
  type PatientId,
  patientId,
  type SensorStoreService,
} from "@medusa/domain";
import { record, walking } from "@medusa/domain/testing";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiOnDynamoLocal, apiOnDynamoLocal } from "./testing/on-dynamo-local.js";

/** 2030-01-07, a Monday; so DynamoDB Local's TTL sweeper leaves the fixtures alone. */
const DAY = Date.UTC(2030, 0, 7);
const MIN = 60_000;
const device = deviceId("medusa-pi-activity");
const P1 = patientId("P-act-1");
const P2 = patientId("P-act-2");
const HANDOVER = DAY + 30 * MIN + 20_000;

let api: ApiOnDynamoLocal;

const get = (path: string, accept = "application/json", token = api.viewer) =>
  api.app.request(path, { headers: { authorization: `Bearer ${token}`, accept } });

beforeAll(async () => {
  api = await apiOnDynamoLocal();
  const { stores } = api;
  const sensors: SensorStoreService = keepingActivity(stores.sensors, stores.activity, {
    epochMs: DEFAULT_EPOCH_MS,
    retentionMs: 30 * 86_400_000,
  });
  // An hour of walking at 10 Hz, the device on P1 until HANDOVER, then on P2.
  const samples = record(
    { start: DAY, durationMs: 60 * MIN },
    walking({ cadence: 100, amplitude: 0.4, seed: 2 }).motion,
  );
  const intervals = {
    version: 2,
    intervals: [
      {
        deviceId: device,
        patientId: P1,
        assignedBy: "nurse@clinic.example" as never,
        start: epochMillis(DAY - MIN),
        end: epochMillis(HANDOVER),
      },
      {
        deviceId: device,
        patientId: P2,
        assignedBy: "nurse@clinic.example" as never,
        start: epochMillis(HANDOVER),
        end: null,
      },
    ],
  };
  for (let i = 0; i < samples.length; i += 1_200)
    await Effect.runPromise(
      sensors.write(
        attribute(device, samples.slice(i, i + 1_200), intervals, { retentionMs: 30 * 86_400_000 }),
      ),
    );
}, 300_000);
afterAll(() => api.close());

describe("a patient's activity", () => {
  it("per 60 s epoch, each patient only their own minutes; a viewer reads it", async () => {
    const res = await get(
      `/api/patients/${P1}/activity?start_time=${DAY}&end_time=${DAY + 2 * 3_600_000}`,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      epochs: Array<Record<string, number | string>>;
      count: number;
      next_cursor: null;
    };
    expect(body.count).toBe(31);
    expect(body.epochs[0]).toMatchObject({
      time: DAY,
      epoch_ms: 60_000,
      device_id: device,
      samples: 600,
      coverage: 1,
      wear: true,
    });
    // Walking at 100 steps/min: moderate by the wrist cut-points or above, and about 100 steps a minute.
    const middle = body.epochs[10] as Record<string, number>;
    expect(middle.steps).toBeGreaterThanOrEqual(95);
    expect(middle.steps).toBeLessThanOrEqual(105);
    expect(middle.enmo_mg).toBeGreaterThan(44.8);
    // Minute 30 is split at the handover: 200 samples P1's, 400 P2's.
    expect(body.epochs[30]).toMatchObject({ time: DAY + 30 * MIN, samples: 200 });
    const p2 = (await (
      await get(`/api/patients/${P2}/activity?start_time=${DAY}&end_time=${DAY + 3_600_000}`)
    ).json()) as {
      epochs: Array<Record<string, number>>;
    };
    expect(p2.epochs[0]).toMatchObject({ time: DAY + 30 * MIN, samples: 400 });
    expect(p2.epochs.length).toBe(30);
  });

  it("pages with a cursor and recomputes other epoch lengths from the samples", async () => {
    const first = (await (
      await get(
        `/api/patients/${P1}/activity?start_time=${DAY}&end_time=${DAY + 3_600_000}&limit=20`,
      )
    ).json()) as {
      epochs: Array<{ time: number }>;
      next_cursor: string;
    };
    expect(first.epochs.length).toBe(20);
    const rest = (await (
      await get(
        `/api/patients/${P1}/activity?start_time=${DAY}&end_time=${DAY + 3_600_000}&limit=20&cursor=${encodeURIComponent(first.next_cursor)}`,
      )
    ).json()) as { epochs: Array<{ time: number }>; next_cursor: null };
    expect(rest.epochs.map((e) => e.time)[0]).toBe(DAY + 20 * MIN);
    expect(rest.next_cursor).toBeNull();
    const fine = (await (
      await get(
        `/api/patients/${P1}/activity?start_time=${DAY}&end_time=${DAY + 5 * MIN}&epoch_ms=10000`,
      )
    ).json()) as {
      epochs: Array<{ samples: number; epoch_ms: number }>;
    };
    expect(fine.epochs.length).toBe(30);
    expect(fine.epochs.every((e) => e.samples === 100 && e.epoch_ms === 10_000)).toBe(true);
  });

  it("daily in the clinic's time zone: wear minutes, minutes per intensity, steps, devices", async () => {
    const res = await get(
      `/api/patients/${P1}/activity/daily?start_date=2030-01-07&end_date=2030-01-08&tz=Europe/Berlin`,
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { days: Array<Record<string, unknown>> };
    expect(body.days.length).toBe(2);
    const [monday, tuesday] = body.days as [Record<string, number>, Record<string, number>];
    expect(monday.wear_minutes).toBe(31);
    const {
      sedentary_minutes = 0,
      light_minutes = 0,
      moderate_minutes = 0,
      vigorous_minutes = 0,
    } = monday;
    expect(sedentary_minutes + light_minutes + moderate_minutes + vigorous_minutes).toBe(31);
    expect(monday.steps).toBeGreaterThan(2_800);
    expect(monday.devices).toEqual([device]);
    expect(monday.start_time).toBe(Date.UTC(2030, 0, 6, 23));
    expect(tuesday.wear_minutes).toBe(0);
  });

  it("downloads as CSV naming units, cut-points and algorithm versions", async () => {
    const res = await get(
      `/api/patients/${P1}/activity?start_time=${DAY}&end_time=${DAY + 3 * MIN}`,
      "text/csv",
    );
    expect(res.headers.get("content-type")).toContain("text/csv");
    const lines = (await res.text()).trim().split("\r\n");
    expect(lines.some((l) => l.startsWith("# units:") && l.includes("milli-g"))).toBe(true);
    expect(lines.some((l) => l.includes("Hildebrand et al. 2014"))).toBe(true);
    expect(lines.some((l) => l.startsWith("# algorithm enmo: enmo-1"))).toBe(true);
    const header = lines.findIndex((l) => l.startsWith("time,"));
    expect(lines[header]).toBe(
      "time,epoch_ms,device_id,enmo_mg,mad_mg,samples,expected_samples,coverage,wear,intensity,steps,cadence_spm",
    );
    expect(lines.length - header - 1).toBe(3);
    const daily = await get(
      `/api/patients/${P1}/activity/daily?start_date=2030-01-07&end_date=2030-01-07`,
      "text/csv",
    );
    expect((await daily.text()).split("\r\n").find((l) => l.startsWith("date,"))).toContain(
      "wear_minutes",
    );
  });

  it("classes intensity with the cut-point set asked for (wrist unless asked), named in JSON and CSV", async () => {
    const url = (set?: string) =>
      `/api/patients/${P1}/activity?start_time=${DAY}&end_time=${DAY + 30 * MIN}${set ? `&cut_points=${set}` : ""}`;
    type Page = {
      epochs: Array<{ enmo_mg: number; intensity: string | null }>;
      cut_points: { name: string; light_mg: number; moderate_mg: number; position: string };
    };
    const wrist = (await (await get(url())).json()) as Page;
    const hip = (await (await get(url("hip"))).json()) as Page;
    expect(wrist.cut_points).toMatchObject({ name: "wrist", light_mg: 44.8, moderate_mg: 100.6 });
    expect(wrist.cut_points.position).toBe("non-dominant wrist");
    expect(hip.cut_points).toMatchObject({ name: "hip", light_mg: 47.4, moderate_mg: 69.1 });
    const classOf = (mg: number, light: number, moderate: number, vigorous: number) =>
      mg < light ? "sedentary" : mg < moderate ? "light" : mg < vigorous ? "moderate" : "vigorous";
    expect(hip.epochs.length).toBe(wrist.epochs.length);
    for (const [i, e] of hip.epochs.entries()) {
      expect(e.enmo_mg).toBe(wrist.epochs[i]?.enmo_mg);
      if (e.intensity !== null) expect(e.intensity).toBe(classOf(e.enmo_mg, 47.4, 69.1, 258.7));
      if (wrist.epochs[i]?.intensity)
        expect(wrist.epochs[i]?.intensity).toBe(classOf(e.enmo_mg, 44.8, 100.6, 428.8));
    }
    const csv = await (await get(url("hip"), "text/csv")).text();
    expect(csv).toContain('# intensity cut-points "hip" (ENMO, mg; hip): light >= 47.4');
    const daily = (await (
      await get(
        `/api/patients/${P1}/activity/daily?start_date=2030-01-07&end_date=2030-01-07&cut_points=hip`,
      )
    ).json()) as { cut_points: { name: string } };
    expect(daily.cut_points.name).toBe("hip");
    const bad = await get(url("ankle"));
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { detail: string }).detail).toContain("cut_points");
  });

  it("refuses bad input with a problem: an unknown time zone, an epoch length, a reversed range", async () => {
    const tz = await get(
      `/api/patients/${P1}/activity/daily?start_date=2030-01-07&end_date=2030-01-07&tz=Mars/Olympus`,
    );
    expect(tz.status).toBe(400);
    expect(((await tz.json()) as { detail: string }).detail).toContain("Mars/Olympus");
    expect(
      (
        await get(
          `/api/patients/${P1}/activity?start_time=${DAY}&end_time=${DAY + MIN}&epoch_ms=7000`,
        )
      ).status,
    ).toBe(400);
    expect(
      (await get(`/api/patients/${P1}/activity/daily?start_date=2030-01-08&end_date=2030-01-07`))
        .status,
    ).toBe(400);
    expect(
      (await get(`/api/patients/${P1}/activity?start_time=${DAY + MIN}&end_time=${DAY}`)).status,
    ).toBe(400);
    expect(
      (
        await api.app.request(
          `/api/patients/${P1}/activity?start_time=${DAY}&end_time=${DAY + MIN}`,
        )
      ).status,
    ).toBe(401);
  });
});

/** Blocks of fifteen 60 s epochs of `device` on `patient` over `[from, to)`, figures varying by epoch. */
const weekBlocks = (
  device: DeviceId,
  patient: PatientId,
  from: number,
  to: number,
): Array<ActivityBlock> => {
  const out: Array<ActivityBlock> = [];
  for (let start = from; start < to; start += BLOCK_MS) {
    const axis = { sum: 0, squares: 4_000_000_000, min: -3000, max: 3000 };
    out.push({
      start,
      epochMs: DEFAULT_EPOCH_MS,
      deviceId: device,
      patientId: patient,
      ttl: Math.ceil((start + BLOCK_MS + 30 * 86_400_000) / 1000),
      stats: { samples: 9000, minutes: 0x7fff, x: axis, y: axis, z: axis },
      epochs: Array.from({ length: 15 }, (_, index) => ({
        index,
        samples: 600,
        expected: 600,
        enmo: 600 * (((start / MIN + index) * 7919) % 200_000),
        mad: ((start / MIN + index) * 104_729) % 300_000,
        steps: (start / MIN + index) % 120,
      })),
    });
  }
  return out;
};

describe("a week of activity in one page", () => {
  const P3 = patientId("P-act-week");
  const WEEK = DAY + 14 * 86_400_000;
  const END = WEEK + 7 * 86_400_000;
  const devices = [deviceId("act-week-a"), deviceId("act-week-b"), deviceId("act-week-c")];

  beforeAll(async () => {
    // Two devices worn the whole week at once and a third for a day: 21,600 epochs.
    await Effect.runPromise(
      Effect.forEach(
        [
          weekBlocks(devices[0] as DeviceId, P3, WEEK, END),
          weekBlocks(devices[1] as DeviceId, P3, WEEK, END),
          weekBlocks(devices[2] as DeviceId, P3, WEEK + 3 * 86_400_000, WEEK + 4 * 86_400_000),
        ],
        (blocks) => api.stores.activity.apply((blocks[0] as ActivityBlock).deviceId, blocks, []),
      ),
    );
  }, 120_000);

  it("comes back in one request with overlapping devices; a cursor pages it all the same", async () => {
    const res = await get(`/api/patients/${P3}/activity?start_time=${WEEK}&end_time=${END}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    const one = JSON.parse(text) as {
      count: number;
      next_cursor: string | null;
      epochs: Array<{ time: number; device_id: string }>;
    };
    expect(one.count).toBe(2 * 10_080 + 1_440);
    expect(one.next_cursor).toBeNull();
    expect(new Set(one.epochs.map((e) => e.device_id))).toEqual(new Set(devices));
    // Within the page's bound in bytes (Lambda's 6 MB response, the body's quotes escaped).
    expect(JSON.stringify({ statusCode: 200, body: text }).length).toBeLessThan(6 * 1024 * 1024);
    // The same epochs through pages of 5,000 (as a longer range is read).
    const paged: typeof one.epochs = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = (await (
        await get(
          `/api/patients/${P3}/activity?start_time=${WEEK}&end_time=${END}&limit=5000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
        )
      ).json()) as typeof one;
      paged.push(...page.epochs);
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(5);
    expect(paged).toEqual(one.epochs);
    // A limit past the bound is refused.
    expect(
      (await get(`/api/patients/${P3}/activity?start_time=${WEEK}&end_time=${END}&limit=30241`))
        .status,
    ).toBe(400);
  }, 120_000);
});
