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

/**
 * What the activity function costs an invocation, as `pnpm bench:activity-aws`
 * measures it (`cost/activity.json`): one device at `rateHz`, a message every
 * `intervalS`, the function invoked with each `windowS` of the sensor table's
 * stream (one device on the shard: the worst case), its own DynamoDB client
 * metered. DynamoDB stream reads by a Lambda trigger are not billed.
 */
export const ActivityFigures = Schema.Struct({
  measured: Schema.String,
  by: Schema.String,
  rateHz: Schema.Number,
  intervalS: Schema.Number,
  /** The event source mapping's batching window: an invocation per window per shard. */
  windowS: Schema.Number,
  wruPerInvocation: Schema.Number,
  rruPerInvocation: Schema.Number,
  /** The function's time an invocation, mean, measured in process. */
  msPerInvocation: Schema.Number,
});
export type ActivityFigures = typeof ActivityFigures.Type;

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
  /** The activity function's memory (the CDK app gives it 512 MB), Arm. */
  readonly activityMemoryMb: number;
}

/**
 * The ingest keeps a device's newest sample time in its status row, saving
 * it when the time moves on by a minute or more (`SAMPLE_TIME_STEP_MS` in
 * the domain): each save is a strongly consistent read of the row and a
 * conditional put of it (under 1 KB: one read unit, one write unit).
 */
export const SAMPLE_TIME_STEP_S = 60;

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
  activityMemoryMb: 512,
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
/** A bill line: `quantity` priced at `price` for each `per` of it (a million: most AWS prices are so). */
const billed = (
  item: string,
  quantity: number,
  unit: string,
  price: { readonly usd: number },
  per = 1e6,
): BillLine => ({ item, quantity, unit, usd: (quantity / per) * price.usd });

/**
 * A Lambda function's two lines, its requests and its duration: `invocations`
 * a month, each billed `ms` (whole milliseconds) at `memoryMb` on Arm.
 */
const lambdaLines = (
  fn: {
    readonly name: string;
    /** How often it runs, when the requests line says so. */
    readonly cadence?: string;
    readonly invocations: number;
    readonly ms: number;
    readonly memoryMb: number;
    /** What one invocation is ("a message", "an invocation"). */
    readonly each: string;
  },
  p: PriceTable["prices"],
): ReadonlyArray<BillLine> => [
  billed(
    `Lambda requests (${fn.name}${fn.cadence !== undefined ? `, ${fn.cadence}` : ""})`,
    fn.invocations,
    "requests",
    p.lambdaRequestsPerMillion,
  ),
  billed(
    `Lambda duration (${fn.name}, ${fn.memoryMb} MB Arm, ${fn.ms} ms ${fn.each})`,
    fn.invocations * (fn.ms / 1000) * (fn.memoryMb / 1024),
    "GB-seconds",
    p.lambdaArmGbSecond,
    1,
  ),
];
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
  const timelineRru = DAYS * fleet.timelineHoursPerDay * figures.timelineRruPerHour;
  return [
    billed(
      "IoT Core connection (always on)",
      MINUTES,
      "connection-minutes",
      p.iotConnectivityPerMillionMinutes,
    ),
    billed(
      fleet.basicIngest
        ? "IoT Core messages: sensor data (Basic Ingest: not billed)"
        : "IoT Core messages: sensor data",
      fleet.basicIngest ? 0 : sensorUnits,
      "5 KB messages",
      p.iotMessagesPerMillion,
    ),
    billed(
      `IoT Core messages: status every ${fleet.statusIntervalS} s`,
      statuses,
      "5 KB messages",
      p.iotMessagesPerMillion,
    ),
    billed("IoT rules triggered", sensorUnits, "5 KB rule messages", p.iotRulesTriggeredPerMillion),
    billed(
      "IoT rule actions (the ingest function)",
      messages,
      "actions",
      p.iotActionsExecutedPerMillion,
    ),
    ...lambdaLines(
      {
        name: "ingest",
        invocations: messages,
        // Lambda bills whole milliseconds, rounded up.
        ms: Math.ceil(fleet.lambdaMsPerMessage ?? figures.lambdaMsPerMessage),
        memoryMb: fleet.lambdaMemoryMb,
        each: "a message",
      },
      p,
    ),
    billed(
      "DynamoDB writes (items, index entries, re-attribution, commands)",
      messages * figures.wruPerMessage,
      "write units",
      p.dynamoWriteUnitsPerMillion,
    ),
    billed(
      `DynamoDB reads (ingest, re-attribution; ${fleet.timelineHoursPerDay} h of timeline a day)`,
      messages * figures.rruPerMessage + timelineRru,
      "read units",
      p.dynamoReadUnitsPerMillion,
    ),
    billed(
      `DynamoDB storage (${fleet.retentionDays} days kept, ${figures.storedBytesPerSample.toFixed(1)} B a sample)`,
      (samplesKept * figures.storedBytesPerSample) / GB,
      "GB-month",
      p.dynamoStorageGbMonth,
      1,
    ),
    billed(
      "DynamoDB point-in-time recovery (the table, not its index)",
      (samplesKept * figures.tableBytesPerSample) / GB,
      "GB-month",
      p.dynamoPitrGbMonth,
      1,
    ),
    billed(
      "Device shadow operations",
      DAYS * fleet.shadowOpsPerDay,
      "operations",
      p.iotShadowOperationsPerMillion,
    ),
  ];
};

/**
 * The status row's last-sample saves a device-month: one each time the
 * newest sample moves on by `SAMPLE_TIME_STEP_S`, i.e. at the first message
 * a step or more after the last save (43,200 at one a minute).
 */
export const sampleTimeSavesPerMonth = (intervalS: number): number =>
  (DAYS * 86_400) / (Math.ceil(SAMPLE_TIME_STEP_S / intervalS - 1e-9) * intervalS);

/**
 * The lines the ingest's status-row saves and the activity function add to
 * a device-month: the saves from the rule above, the function from what
 * `pnpm bench:activity-aws` measured an invocation (one a `windowS`; its
 * DynamoDB units scaled by the samples a window holds when the fleet's rate
 * is not the one measured).
 */
export const activityLines = (
  fleet: Fleet,
  activity: ActivityFigures,
  table: PriceTable,
): ReadonlyArray<BillLine> => {
  const p = table.prices;
  const saves = sampleTimeSavesPerMonth(fleet.intervalS);
  const invocations = (DAYS * 86_400) / activity.windowS;
  const scale = fleet.rateHz / activity.rateHz;
  return [
    billed(
      "DynamoDB writes (status row: newest sample time, once a minute at most)",
      saves,
      "write units",
      p.dynamoWriteUnitsPerMillion,
    ),
    billed(
      "DynamoDB reads (status row, read before each save)",
      saves,
      "read units",
      p.dynamoReadUnitsPerMillion,
    ),
    ...lambdaLines(
      {
        name: "activity",
        cadence: `one each ${activity.windowS} s`,
        invocations,
        ms: Math.ceil(activity.msPerInvocation),
        memoryMb: fleet.activityMemoryMb,
        each: "an invocation",
      },
      p,
    ),
    billed(
      "DynamoDB writes (activity blocks)",
      invocations * activity.wruPerInvocation * scale,
      "write units",
      p.dynamoWriteUnitsPerMillion,
    ),
    billed(
      "DynamoDB reads (activity: the blocks' samples again)",
      invocations * activity.rruPerInvocation * scale,
      "read units",
      p.dynamoReadUnitsPerMillion,
    ),
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
