import { Schema } from "effect";

/** One price, with where and when it was read. */
const Price = Schema.Struct({
  usd: Schema.Number,
  unitBytes: Schema.optionalWith(Schema.Number, { exact: true }),
  source: Schema.String,
  read: Schema.String,
  status: Schema.Literal("confirmed", "second-hand"),
});

/** `cost/prices.json`: the price table, kept as data. */
export const PriceTable = Schema.Struct({
  region: Schema.String,
  note: Schema.String,
  prices: Schema.Struct({
    iotConnectivityPerMillionMinutes: Price,
    iotMessagesPerMillion: Price,
    iotRulesTriggeredPerMillion: Price,
    iotActionsExecutedPerMillion: Price,
    iotShadowOperationsPerMillion: Price,
    lambdaRequestsPerMillion: Price,
    lambdaArmGbSecond: Price,
    dynamoWriteUnitsPerMillion: Price,
    dynamoReadUnitsPerMillion: Price,
    dynamoStorageGbMonth: Price,
    dynamoPitrGbMonth: Price,
  }),
});
export type PriceTable = typeof PriceTable.Type;

/**
 * What one sensor-data message costs in counts, as `pnpm bench:cost` measures
 * them through the real ingest on DynamoDB Local (`cost/measured.json`).
 */
export const MessageFigures = Schema.Struct({
  rateHz: Schema.Number,
  intervalS: Schema.Number,
  samplesPerMessage: Schema.Number,
  /** The message's payload on the wire (for IoT Core's 5 KB metering). */
  payloadBytes: Schema.Number,
  /** Write units a message costs: its item and index entry, with re-attribution and commands spread over the day. */
  wruPerMessage: Schema.Number,
  /** Read units a message costs: the interval cache's reads, re-attribution's, spread over the day. */
  rruPerMessage: Schema.Number,
  /** The ingest function's time a message, measured in process. */
  lambdaMsPerMessage: Schema.Number,
  /** Stored bytes a sample, table and index together, with DynamoDB's 100 bytes an item. */
  storedBytesPerSample: Schema.Number,
  /** The table's share of it (point-in-time recovery is billed on the table's size, not its indexes'). */
  tableBytesPerSample: Schema.Number,
  /** Read units of one hour of one patient's raw timeline (eventually consistent). */
  timelineRruPerHour: Schema.Number,
});
export type MessageFigures = typeof MessageFigures.Type;

export const Measured = Schema.Struct({
  measured: Schema.String,
  by: Schema.String,
  entries: Schema.NonEmptyArray(MessageFigures),
});
export type Measured = typeof Measured.Type;

/** The fleet and how it is run. */
export interface Fleet {
  readonly devices: number;
  readonly rateHz: number;
  readonly intervalS: number;
  readonly retentionDays: number;
  /** Sensor data through Basic Ingest (`$aws/rules/…`): no messaging charge. */
  readonly basicIngest: boolean;
  /** The agent's status report, every this many seconds (30 by default), about 600 bytes. */
  readonly statusIntervalS: number;
  /** The ingest function's memory (the CDK app gives it 256 MB), Arm. */
  readonly lambdaMemoryMb: number;
  /** Hours of raw timeline a clinician reads a device-day. */
  readonly timelineHoursPerDay: number;
  /** Shadow operations a device-day (reported state, desired changes). */
  readonly shadowOpsPerDay: number;
  /**
   * The ingest's billed milliseconds a message, when not the measured ones:
   * measured in process against DynamoDB Local, which answers faster than
   * DynamoDB does a Lambda function across the network.
   */
  readonly lambdaMsPerMessage?: number;
}

export const defaultFleet: Fleet = {
  devices: 1,
  rateHz: 10,
  intervalS: 10,
  retentionDays: 30,
  basicIngest: true,
  statusIntervalS: 30,
  lambdaMemoryMb: 256,
  timelineHoursPerDay: 1,
  shadowOpsPerDay: 0,
};

export interface BillLine {
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  /** A device-month. */
  readonly usd: number;
}

const DAYS = 30;
const MINUTES = DAYS * 24 * 60;
const GB = 2 ** 30;
const perMillion = (count: number, price: { readonly usd: number }) => (count / 1e6) * price.usd;
/** IoT Core meters messages in 5 KB units: a 6 KB message is two. */
const units = (bytes: number, unitBytes = 5120) => Math.max(1, Math.ceil(bytes / unitBytes));

/**
 * A device-month of the fleet, line by line: what AWS bills for one device
 * sampling at `rateHz` and publishing every `intervalS`, with `figures`
 * measured at that message size.
 */
export const deviceMonthBill = (
  fleet: Fleet,
  figures: MessageFigures,
  table: PriceTable,
): ReadonlyArray<BillLine> => {
  const p = table.prices;
  const messages = (DAYS * 86_400) / fleet.intervalS;
  const statuses = (DAYS * 86_400) / fleet.statusIntervalS;
  const sensorUnits = messages * units(figures.payloadBytes, p.iotMessagesPerMillion.unitBytes);
  const samplesKept = fleet.rateHz * 86_400 * fleet.retentionDays;
  // Lambda bills whole milliseconds, rounded up.
  const lambdaMs = Math.ceil(fleet.lambdaMsPerMessage ?? figures.lambdaMsPerMessage);
  const gbSeconds = messages * (lambdaMs / 1000) * (fleet.lambdaMemoryMb / 1024);
  const timelineRru = DAYS * fleet.timelineHoursPerDay * figures.timelineRruPerHour;
  return [
    {
      item: "IoT Core connection (always on)",
      quantity: MINUTES,
      unit: "connection-minutes",
      usd: perMillion(MINUTES, p.iotConnectivityPerMillionMinutes),
    },
    {
      item: fleet.basicIngest
        ? "IoT Core messages: sensor data (Basic Ingest: not billed)"
        : "IoT Core messages: sensor data",
      quantity: fleet.basicIngest ? 0 : sensorUnits,
      unit: "5 KB messages",
      usd: fleet.basicIngest ? 0 : perMillion(sensorUnits, p.iotMessagesPerMillion),
    },
    {
      item: `IoT Core messages: status every ${fleet.statusIntervalS} s`,
      quantity: statuses,
      unit: "5 KB messages",
      usd: perMillion(statuses, p.iotMessagesPerMillion),
    },
    {
      item: "IoT rules triggered",
      quantity: sensorUnits,
      unit: "5 KB rule messages",
      usd: perMillion(sensorUnits, p.iotRulesTriggeredPerMillion),
    },
    {
      item: "IoT rule actions (the ingest function)",
      quantity: messages,
      unit: "actions",
      usd: perMillion(messages, p.iotActionsExecutedPerMillion),
    },
    {
      item: "Lambda requests (ingest)",
      quantity: messages,
      unit: "requests",
      usd: perMillion(messages, p.lambdaRequestsPerMillion),
    },
    {
      item: `Lambda duration (ingest, ${fleet.lambdaMemoryMb} MB Arm, ${lambdaMs} ms a message)`,
      quantity: gbSeconds,
      unit: "GB-seconds",
      usd: gbSeconds * p.lambdaArmGbSecond.usd,
    },
    {
      item: "DynamoDB writes (items, index entries, re-attribution, commands)",
      quantity: messages * figures.wruPerMessage,
      unit: "write units",
      usd: perMillion(messages * figures.wruPerMessage, p.dynamoWriteUnitsPerMillion),
    },
    {
      item: `DynamoDB reads (ingest, re-attribution; ${fleet.timelineHoursPerDay} h of timeline a day)`,
      quantity: messages * figures.rruPerMessage + timelineRru,
      unit: "read units",
      usd: perMillion(messages * figures.rruPerMessage + timelineRru, p.dynamoReadUnitsPerMillion),
    },
    {
      item: `DynamoDB storage (${fleet.retentionDays} days kept, ${figures.storedBytesPerSample.toFixed(1)} B a sample)`,
      quantity: (samplesKept * figures.storedBytesPerSample) / GB,
      unit: "GB-month",
      usd: ((samplesKept * figures.storedBytesPerSample) / GB) * p.dynamoStorageGbMonth.usd,
    },
    {
      item: "DynamoDB point-in-time recovery (the table, not its index)",
      quantity: (samplesKept * figures.tableBytesPerSample) / GB,
      unit: "GB-month",
      usd: ((samplesKept * figures.tableBytesPerSample) / GB) * p.dynamoPitrGbMonth.usd,
    },
    {
      item: "Device shadow operations",
      quantity: DAYS * fleet.shadowOpsPerDay,
      unit: "operations",
      usd: perMillion(DAYS * fleet.shadowOpsPerDay, p.iotShadowOperationsPerMillion),
    },
  ];
};

export const totalOf = (lines: ReadonlyArray<BillLine>): number =>
  lines.reduce((sum, l) => sum + l.usd, 0);

/**
 * The measured figures for a message of `rateHz × intervalS` samples: the
 * entry measured at that size when there is one; otherwise the nearest,
 * with its write units and bytes scaled to the size asked for (an item's
 * write units follow its size in whole kilobytes) — and `scaled` says so.
 */
export const figuresFor = (
  measured: Measured,
  rateHz: number,
  intervalS: number,
): { readonly figures: MessageFigures; readonly scaled: boolean } => {
  const n = rateHz * intervalS;
  const exact = measured.entries.find((e) => e.samplesPerMessage === n);
  if (exact) return { figures: exact, scaled: false };
  const nearest = [...measured.entries].sort(
    (a, b) => Math.abs(a.samplesPerMessage - n) - Math.abs(b.samplesPerMessage - n),
  )[0] as MessageFigures;
  const ratio = n / nearest.samplesPerMessage;
  // Two writes of ceil(size / 1 KB) each: the item and its index entry.
  const itemBytes = (samples: number) => nearest.tableBytesPerSample * samples;
  const writesOf = (samples: number) => 2 * Math.max(1, Math.ceil(itemBytes(samples) / 1024));
  return {
    figures: {
      ...nearest,
      rateHz,
      intervalS,
      samplesPerMessage: n,
      payloadBytes: nearest.payloadBytes * ratio,
      wruPerMessage: nearest.wruPerMessage - writesOf(nearest.samplesPerMessage) + writesOf(n),
      lambdaMsPerMessage: nearest.lambdaMsPerMessage,
    },
    scaled: true,
  };
};
