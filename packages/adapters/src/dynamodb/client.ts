import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";

export interface DynamoClientOptions {
  readonly region?: string;
  /** Overrides the endpoint (DynamoDB Local); the SDK's own `AWS_ENDPOINT_URL_DYNAMODB` works too. */
  readonly endpoint?: string;
  readonly credentials?: DynamoDBClientConfig["credentials"];
  readonly maxAttempts?: number;
}

/** Credentials DynamoDB Local accepts; never valid anywhere else. */
export const localCredentials = { accessKeyId: "local", secretAccessKey: "local" };

/** What the SDK's log entry says of a response: its item count, never its items. */
const outputShape = (output: unknown): unknown => {
  if (typeof output !== "object" || output === null) return { items: undefined };
  const items = "Items" in output && Array.isArray(output.Items) ? output.Items.length : undefined;
  const count = "Count" in output && typeof output.Count === "number" ? output.Count : undefined;
  return { items: items ?? count };
};

/**
 * A DynamoDB client configured the standard way (region and endpoint from
 * the environment unless given). The SDK's logger middleware builds a log
 * entry for every response even for its default logger, which writes
 * nothing: it copies the whole output (every item a Query returns) through
 * the operation's schema to redact it, which cost about a third of reading
 * a patient's week of activity. These clients log nothing through the SDK
 * (and the items hold patient data), so the entry keeps only the count.
 */
export const makeDynamoClient = (options: DynamoClientOptions = {}): DynamoDBClient => {
  const client = new DynamoDBClient({
    ...(options.region ? { region: options.region } : {}),
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.credentials ? { credentials: options.credentials } : {}),
    ...(options.maxAttempts ? { maxAttempts: options.maxAttempts } : {}),
  });
  client.middlewareStack.add(
    (next, context) => (args) => {
      context.outputFilterSensitiveLog = outputShape;
      return next(args);
    },
    { step: "initialize", name: "medusaOutputLogShape", priority: "high" },
  );
  return client;
};

export interface UsageSnapshot {
  /** Requests sent, by operation (`PutItem`, `Query`, …). */
  readonly requests: Readonly<Record<string, number>>;
  readonly totalRequests: number;
  /** Capacity units the responses reported (`ReturnConsumedCapacity: INDEXES`), tables and indexes together. */
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Capacity units by operation. */
  readonly unitsByOperation: Readonly<Record<string, number>>;
}

export interface UsageMeter {
  readonly snapshot: () => UsageSnapshot;
  readonly reset: () => void;
}

interface Capacity {
  readonly CapacityUnits?: number;
  readonly ReadCapacityUnits?: number;
  readonly WriteCapacityUnits?: number;
  readonly Table?: {
    readonly ReadCapacityUnits?: number;
    readonly WriteCapacityUnits?: number;
    readonly CapacityUnits?: number;
  };
  readonly GlobalSecondaryIndexes?: Record<
    string,
    {
      readonly ReadCapacityUnits?: number;
      readonly WriteCapacityUnits?: number;
      readonly CapacityUnits?: number;
    }
  >;
}

const READS = new Set(["GetItem", "Query", "Scan", "BatchGetItem", "TransactGetItems"]);
const SUPPORTS_CAPACITY = new Set([
  "GetItem",
  "PutItem",
  "UpdateItem",
  "DeleteItem",
  "Query",
  "Scan",
  "BatchGetItem",
  "BatchWriteItem",
  "TransactGetItems",
  "TransactWriteItems",
]);

/**
 * Counts requests and consumed capacity of a client, for benchmarks and
 * logs. It asks every operation that supports it for `INDEXES` capacity, so
 * the figures include GSI writes.
 */
export const withUsageMetrics = (client: DynamoDBClient): UsageMeter => {
  let requests: Record<string, number> = {};
  let readUnits = 0;
  let writeUnits = 0;
  let byOperation: Record<string, number> = {};
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName ?? "unknown").replace(/Command$/, "");
      requests[operation] = (requests[operation] ?? 0) + 1;
      const input = args.input as Record<string, unknown>;
      if (SUPPORTS_CAPACITY.has(operation) && input.ReturnConsumedCapacity === undefined) {
        input.ReturnConsumedCapacity = "INDEXES";
      }
      const result = await next(args);
      const output = result.output as { ConsumedCapacity?: Capacity | ReadonlyArray<Capacity> };
      const consumed = output.ConsumedCapacity;
      const all =
        consumed === undefined ? [] : Array.isArray(consumed) ? consumed : [consumed as Capacity];
      for (const c of all) {
        const units = unitsOf(c);
        const n = READS.has(operation) ? units.read || units.total : units.write || units.total;
        if (READS.has(operation)) readUnits += n;
        else writeUnits += n;
        byOperation[operation] = (byOperation[operation] ?? 0) + n;
      }
      return result;
    },
    { step: "initialize", name: "medusaUsageMeter" },
  );
  return {
    snapshot: () => ({
      requests: { ...requests },
      totalRequests: Object.values(requests).reduce((a, b) => a + b, 0),
      readUnits,
      writeUnits,
      unitsByOperation: { ...byOperation },
    }),
    reset: () => {
      requests = {};
      byOperation = {};
      readUnits = 0;
      writeUnits = 0;
    },
  };
};

const unitsOf = (c: Capacity) => {
  let read = 0;
  let write = 0;
  const parts = [c.Table, ...Object.values(c.GlobalSecondaryIndexes ?? {})];
  for (const p of parts) {
    read += p?.ReadCapacityUnits ?? 0;
    write += p?.WriteCapacityUnits ?? 0;
  }
  return { read, write, total: c.CapacityUnits ?? 0 };
};
