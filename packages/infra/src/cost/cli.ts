import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Schema } from "effect";
import {
  ActivityFigures,
  activityLines,
  type BillLine,
  defaultFleet,
  deviceMonthBill,
  type Fleet,
  figuresFor,
  Measured,
  PriceTable,
  totalOf,
} from "./model.js";

export const USAGE = `usage: pnpm cost -- [options]

What a fleet costs a month in AWS, line by line, from the price table
(packages/infra/cost/prices.json), the per-message figures
\`pnpm bench:cost\` measured (packages/infra/cost/measured.json) and the
activity function's figures \`pnpm bench:activity-aws\` measured
(packages/infra/cost/activity.json).

  --devices N               devices (default 1)
  --rate-hz HZ              sample rate (default 10)
  --interval-s S            publish interval (default 10)
  --retention-days D        days samples are kept (default 30)
  --plain-topic             sensor data on the plain topic, not Basic Ingest
  --status-interval-s S     the agent's status interval (default 30)
  --timeline-hours-per-day H  raw timeline read per device-day (default 1)
  --shadow-ops-per-day N    shadow operations per device-day (default 0)
  --lambda-ms MS            the ingest's billed ms a message (default: as measured,
                            in process against DynamoDB Local; AWS adds the network)
  --without-activity        leave out the activity function's lines
  --help`;

const dataFile = (name: string) => new URL(`../../cost/${name}`, import.meta.url);

export const loadPrices = (): PriceTable =>
  Schema.decodeUnknownSync(PriceTable)(JSON.parse(readFileSync(dataFile("prices.json"), "utf8")));
export const loadMeasured = (): Measured =>
  Schema.decodeUnknownSync(Measured)(JSON.parse(readFileSync(dataFile("measured.json"), "utf8")));
export const loadActivity = (): ActivityFigures =>
  Schema.decodeUnknownSync(ActivityFigures)(
    JSON.parse(readFileSync(dataFile("activity.json"), "utf8")),
  );

const money = (usd: number) =>
  usd >= 100 ? `$${usd.toFixed(0)}` : usd >= 1 ? `$${usd.toFixed(2)}` : `$${usd.toFixed(4)}`;
const count = (n: number) =>
  n >= 1_000
    ? Math.round(n).toLocaleString("en")
    : n.toLocaleString("en", { maximumFractionDigits: 3 });

/** The bill as text: a line an item, a device-month and the fleet's month. */
export const billText = (fleet: Fleet, lines: ReadonlyArray<BillLine>, note: string): string => {
  const rows = lines.map((l) => [
    l.item,
    `${count(l.quantity)} ${l.unit}`,
    money(l.usd),
    money(l.usd * fleet.devices),
  ]);
  const total = totalOf(lines);
  rows.push(["total", "", money(total), money(total * fleet.devices)]);
  const head = ["", "a device-month", "per device", `${fleet.devices} device(s)`];
  const widths = head.map((h, c) =>
    Math.max(h.length, ...rows.map((r) => (r[c] as string).length)),
  );
  const line = (r: ReadonlyArray<string>) =>
    r
      .map((cell, c) =>
        c === 0 ? cell.padEnd(widths[c] as number) : cell.padStart(widths[c] as number),
      )
      .join("  ");
  return [
    `${fleet.devices} device(s), ${fleet.rateHz} Hz, a message every ${fleet.intervalS} s, ${fleet.retentionDays} days kept, ${fleet.basicIngest ? "Basic Ingest" : "plain topic"}`,
    note,
    "",
    line(head),
    ...rows.map(line),
  ].join("\n");
};

export const main = (argv: ReadonlyArray<string>): number => {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      devices: { type: "string" },
      "rate-hz": { type: "string" },
      "interval-s": { type: "string" },
      "retention-days": { type: "string" },
      "plain-topic": { type: "boolean" },
      "status-interval-s": { type: "string" },
      "timeline-hours-per-day": { type: "string" },
      "shadow-ops-per-day": { type: "string" },
      "lambda-ms": { type: "string" },
      "without-activity": { type: "boolean" },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const num = (v: string | undefined, name: string, fallback: number, min: number) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new RangeError(`--${name} ${v}: a number ≥ ${min}`);
    return n;
  };
  const fleet: Fleet = {
    ...defaultFleet,
    devices: num(values.devices, "devices", 1, 1),
    rateHz: num(values["rate-hz"], "rate-hz", 10, 1),
    intervalS: num(values["interval-s"], "interval-s", 10, 0.1),
    retentionDays: num(values["retention-days"], "retention-days", 30, 1),
    basicIngest: values["plain-topic"] !== true,
    statusIntervalS: num(values["status-interval-s"], "status-interval-s", 30, 1),
    timelineHoursPerDay: num(values["timeline-hours-per-day"], "timeline-hours-per-day", 1, 0),
    shadowOpsPerDay: num(values["shadow-ops-per-day"], "shadow-ops-per-day", 0, 0),
    ...(values["lambda-ms"] !== undefined
      ? { lambdaMsPerMessage: num(values["lambda-ms"], "lambda-ms", 0, 0.1) }
      : {}),
  };
  const prices = loadPrices();
  const measured = loadMeasured();
  const { figures, scaled } = figuresFor(measured, fleet.rateHz, fleet.intervalS);
  const activity = values["without-activity"] === true ? undefined : loadActivity();
  const note = `${scaled ? `Figures scaled from the nearest measured message size (${measured.entries.map((e) => e.samplesPerMessage).join(", ")} samples); ` : ""}measured ${measured.measured} (${measured.by})${activity ? `; activity function measured ${activity.measured} (${activity.by})` : ""}; prices ${prices.region}, read ${[...new Set(Object.values(prices.prices).map((p) => p.read))].join(", ")}.`;
  const lines = [
    ...deviceMonthBill(fleet, figures, prices),
    ...(activity ? activityLines(fleet, activity, prices) : []),
  ];
  console.log(billText(fleet, lines, note));
  return 0;
};
