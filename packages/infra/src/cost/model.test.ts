import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { billText, loadActivity, loadMeasured, loadPrices, main } from "./cli.js";
import {
  type ActivityFigures,
  activityLines,
  type BillLine,
  defaultFleet,
  deviceMonthBill,
  figuresFor,
  type Measured,
  type MessageFigures,
  sampleTimeSavesPerMonth,
  totalOf,
} from "./model.js";

const prices = loadPrices();
const measured = loadMeasured();

/** Figures chosen by hand, so each line's arithmetic can be checked. */
const figures: MessageFigures = {
  rateHz: 10,
  intervalS: 10,
  samplesPerMessage: 100,
  payloadBytes: 4_900,
  wruPerMessage: 2,
  rruPerMessage: 0.5,
  lambdaMsPerMessage: 8,
  storedBytesPerSample: 10,
  tableBytesPerSample: 5,
  timelineRruPerHour: 20,
};
const line = (lines: ReadonlyArray<BillLine>, starts: string) => {
  const found = lines.find((l) => l.item.startsWith(starts));
  if (!found) throw new Error(`no line "${starts}"`);
  return found;
};

describe("the price table", () => {
  it("has every price with its source and the date it was read", () => {
    for (const [name, price] of Object.entries(prices.prices)) {
      expect(price.usd, name).toBeGreaterThan(0);
      expect(price.source.length, name).toBeGreaterThan(20);
      expect(price.read, name).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    }
  });
});

describe("a device-month", () => {
  const bill = deviceMonthBill(defaultFleet, figures, prices);
  const messages = (30 * 86_400) / 10;

  it("counts a message every interval, and Basic Ingest's sensor data is not billed as messaging", () => {
    expect(line(bill, "IoT Core messages: sensor").usd).toBe(0);
    expect(line(bill, "IoT rules triggered").quantity).toBe(messages);
    expect(line(bill, "Lambda requests").quantity).toBe(messages);
    expect(line(bill, "Lambda requests").usd).toBeCloseTo((messages / 1e6) * 0.2, 10);
  });

  it("bills the plain topic's messages in 5 KB units: a message of 6 KB is two", () => {
    const plain = { ...defaultFleet, basicIngest: false };
    expect(
      line(deviceMonthBill(plain, figures, prices), "IoT Core messages: sensor").quantity,
    ).toBe(messages);
    const big = deviceMonthBill(plain, { ...figures, payloadBytes: 6_000 }, prices);
    expect(line(big, "IoT Core messages: sensor").quantity).toBe(2 * messages);
    expect(line(big, "IoT Core messages: sensor").usd).toBeCloseTo((2 * messages) / 1e6, 10);
  });

  it("stores every sample for the retention period at the measured bytes a sample", () => {
    const storage = line(bill, "DynamoDB storage");
    const bytes = 10 * 86_400 * 30 * 10;
    expect(storage.quantity).toBeCloseTo(bytes / 2 ** 30, 10);
    expect(storage.usd).toBeCloseTo((bytes / 2 ** 30) * 0.25, 10);
    const week = deviceMonthBill({ ...defaultFleet, retentionDays: 7 }, figures, prices);
    expect(line(week, "DynamoDB storage").usd).toBeCloseTo((storage.usd * 7) / 30, 10);
  });

  it("backs up the table, not its index, for point-in-time recovery", () => {
    const pitr = line(bill, "DynamoDB point-in-time recovery");
    const bytes = 10 * 86_400 * 30 * 5;
    expect(pitr.quantity).toBeCloseTo(bytes / 2 ** 30, 10);
    expect(pitr.usd).toBeCloseTo((bytes / 2 ** 30) * 0.2, 10);
  });

  it("bills the ingest's whole milliseconds, rounded up, measured or given", () => {
    const gbSeconds = (ms: number) => (messages * ms) / 1000 / 4;
    expect(line(bill, "Lambda duration").quantity).toBeCloseTo(gbSeconds(8), 8);
    const fraction = deviceMonthBill(defaultFleet, { ...figures, lambdaMsPerMessage: 4.2 }, prices);
    expect(line(fraction, "Lambda duration").quantity).toBeCloseTo(gbSeconds(5), 8);
    const aws = deviceMonthBill({ ...defaultFleet, lambdaMsPerMessage: 25 }, figures, prices);
    expect(line(aws, "Lambda duration").quantity).toBeCloseTo(gbSeconds(25), 8);
    expect(line(aws, "Lambda duration").item).toContain("25 ms a message");
  });

  it("reads the timeline the clinicians read, on top of the ingest's reads", () => {
    expect(line(bill, "DynamoDB reads").quantity).toBe(messages * 0.5 + 30 * 20);
    const none = deviceMonthBill({ ...defaultFleet, timelineHoursPerDay: 0 }, figures, prices);
    expect(line(none, "DynamoDB reads").quantity).toBe(messages * 0.5);
  });

  it("totals its lines", () => {
    expect(totalOf(bill)).toBeCloseTo(
      bill.reduce((s, l) => s + l.usd, 0),
      12,
    );
    expect(
      totalOf(deviceMonthBill({ ...defaultFleet, intervalS: 1 }, figures, prices)),
    ).toBeGreaterThan(totalOf(bill));
  });
});

describe("the status row's saves and the activity function, a device-month", () => {
  /** Figures chosen by hand: the arithmetic of each line can be checked. */
  const activity: ActivityFigures = {
    measured: "2026-11-30",
    by: "hand",
    rateHz: 10,
    intervalS: 10,
    windowS: 60,
    wruPerInvocation: 2,
    rruPerInvocation: 20,
    msPerInvocation: 199.2,
  };
  const lines = activityLines(defaultFleet, activity, prices);

  it("saves the newest sample time at most once a minute: 43,200 saves, each a read and a write", () => {
    expect(sampleTimeSavesPerMonth(10)).toBe(43_200);
    expect(sampleTimeSavesPerMonth(1)).toBe(43_200);
    expect(sampleTimeSavesPerMonth(60)).toBe(43_200);
    // A message every 7 s: the first a minute or more after a save is 63 s after it.
    expect(sampleTimeSavesPerMonth(7)).toBeCloseTo((30 * 86_400) / 63, 9);
    // Every 90 s: each message moves the time on by more than a minute.
    expect(sampleTimeSavesPerMonth(90)).toBe(28_800);
    expect(line(lines, "DynamoDB writes (status row").quantity).toBe(43_200);
    expect(line(lines, "DynamoDB writes (status row").usd).toBeCloseTo(
      (43_200 / 1e6) * prices.prices.dynamoWriteUnitsPerMillion.usd,
      12,
    );
    expect(line(lines, "DynamoDB reads (status row").quantity).toBe(43_200);
  });

  it("prices the activity function from the figures of an invocation, one a window", () => {
    expect(line(lines, "Lambda requests (activity").quantity).toBe(43_200);
    // 200 billed ms (rounded up) at 512 MB: 0.1 GB-second an invocation.
    expect(line(lines, "Lambda duration (activity").quantity).toBeCloseTo(4_320, 9);
    expect(line(lines, "Lambda duration (activity").usd).toBeCloseTo(
      4_320 * prices.prices.lambdaArmGbSecond.usd,
      12,
    );
    expect(line(lines, "DynamoDB writes (activity").quantity).toBe(86_400);
    expect(line(lines, "DynamoDB reads (activity").quantity).toBe(864_000);
    // Twice the rate: twice the samples a window to read and write again.
    const fast = activityLines({ ...defaultFleet, rateHz: 20 }, activity, prices);
    expect(line(fast, "DynamoDB reads (activity").quantity).toBe(1_728_000);
  });

  it("as measured (cost/activity.json), the function costs about $0.25 a device-month", () => {
    const measuredActivity = loadActivity();
    const functionLines = activityLines(defaultFleet, measuredActivity, prices).filter((l) =>
      l.item.includes("activity"),
    );
    expect(totalOf(functionLines)).toBeGreaterThan(0.1);
    expect(totalOf(functionLines)).toBeLessThan(0.5);
  });
});

describe("the measured figures", () => {
  it("were measured at 1 s, 5 s and 10 s, and the 10 s bill meets the target of $0.75", () => {
    expect(measured.entries.map((e) => e.intervalS)).toEqual([1, 5, 10]);
    const { figures: at10, scaled } = figuresFor(measured, 10, 10);
    expect(scaled).toBe(false);
    expect(totalOf(deviceMonthBill(defaultFleet, at10, prices))).toBeLessThanOrEqual(0.75);
  });

  it("are scaled from the nearest measured size when the message size was not measured, and say so", () => {
    const m: Measured = { measured: "2026-11-29", by: "hand", entries: [figures] };
    const small = figuresFor(m, 10, 8);
    expect(small.scaled).toBe(true);
    expect(small.figures.samplesPerMessage).toBe(80);
    expect(small.figures.wruPerMessage).toBe(2);
    expect(small.figures.payloadBytes).toBeCloseTo(3_920, 6);
    // 300 samples at 5 bytes each in the item: 1,500 bytes, two units for the item and two for its index entry.
    const large = figuresFor(m, 10, 30);
    expect(large.figures.wruPerMessage).toBe(4);
  });
});

describe("pnpm cost", () => {
  const printed = (argv: ReadonlyArray<string>) => {
    const out: Array<string> = [];
    const log = console.log;
    console.log = (s: string) => out.push(s);
    try {
      expect(main(argv)).toBe(0);
    } finally {
      console.log = log;
    }
    return out.join("\n");
  };

  it("prints the bill line by line, a device-month and the fleet's", () => {
    const text = printed([
      "--without-activity",
      "--devices",
      "500",
      "--rate-hz",
      "10",
      "--interval-s",
      "10",
      "--retention-days",
      "30",
    ]);
    expect(text).toContain(
      "500 device(s), 10 Hz, a message every 10 s, 30 days kept, Basic Ingest",
    );
    expect(text).toContain(`measured ${measured.measured}`);
    const total = text.split("\n").find((l) => l.startsWith("total"));
    const [perDevice, fleet] = (total ?? "").match(/\$[\d.,]+/g) ?? [];
    const usd = (s: string | undefined) => Number((s ?? "").replace(/[$,]/g, ""));
    expect(usd(perDevice)).toBeLessThanOrEqual(0.75);
    expect(usd(fleet)).toBeCloseTo(usd(perDevice) * 500, -1);
  });

  it("adds the status row's saves and the activity function unless asked not to", () => {
    const text = printed(["--devices", "10"]);
    expect(text).toMatch(/DynamoDB writes \(status row[^\n]+43,200 write units/);
    expect(text).toMatch(/Lambda requests \(activity, one each 60 s\) +43,200 requests/);
    expect(text).toContain(`activity function measured ${loadActivity().measured}`);
    const total = (t: string) =>
      Number(
        (
          t
            .split("\n")
            .find((l) => l.startsWith("total"))
            ?.match(/\$[\d.,]+/)?.[0] ?? ""
        ).replace(/[$,]/g, ""),
      );
    expect(total(text)).toBeGreaterThan(total(printed(["--devices", "10", "--without-activity"])));
  });

  it("bills the plain topic when asked, and refuses a number it cannot use", () => {
    expect(printed(["--plain-topic"])).toMatch(
      /IoT Core messages: sensor data +259,200 5 KB messages/,
    );
    expect(() => main(["--interval-s", "soon"])).toThrow(/--interval-s soon: a number/);
    expect(() => main(["--devices", "0"])).toThrow(RangeError);
    expect(() => main(["--fleet", "3"])).toThrow(/Unknown option/);
  });

  it("aligns the columns", () => {
    const text = billText(defaultFleet, deviceMonthBill(defaultFleet, figures, prices), "note");
    const rows = text.split("\n").slice(3);
    expect(new Set(rows.map((r) => r.length)).size).toBe(1);
  });
});

describe("the cost table in the deploy guide and the device README", () => {
  const guide = readFileSync(new URL("../../../../docs/deploy.md", import.meta.url), "utf8");
  const device = readFileSync(new URL("../../../device/README.md", import.meta.url), "utf8");
  /** The table's `$ per device-month` and `plain topic` cells, by publish interval in ms. */
  const cells = (text: string) => {
    const rows = new Map<number, [string, string]>();
    for (const m of text.matchAll(
      /^\| \**(\d+)\**[^|]*\| [^|]+ \| \d+ \| \**([\d.]+)\**( \*)? \| ([\d.]+)( \*)? \|$/gm,
    ))
      rows.set(Number(m[1]), [m[2] as string, m[4] as string]);
    return rows;
  };
  const usd = (intervalS: number, basicIngest: boolean) => {
    const fleet = { ...defaultFleet, intervalS, basicIngest };
    return totalOf(
      deviceMonthBill(fleet, figuresFor(measured, 10, intervalS).figures, prices),
    ).toFixed(2);
  };

  it.each([
    ["docs/deploy.md", guide],
    ["packages/device/README.md", device],
  ])(
    "%s shows what the measured figures and the price table give, for every interval",
    (_, text) => {
      const rows = cells(text);
      expect([...rows.keys()]).toEqual([1000, 2000, 5000, 10000, 30000, 60000]);
      for (const [ms, [withBasicIngest, plain]] of rows)
        expect([ms, withBasicIngest, plain]).toEqual([
          ms,
          usd(ms / 1000, true),
          usd(ms / 1000, false),
        ]);
      expect(text).toContain(`\`pnpm bench:cost\` (${measured.measured}`);
    },
  );
});
