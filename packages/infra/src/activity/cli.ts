import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  localCredentials,
  makeDynamoClient,
  makeDynamoStores,
  tableNamesFromEnv,
} from "@medusa/adapters";
import {
  type ActivityRefreshReport,
  ActivityStore,
  DEFAULT_EPOCH_MS,
  DeviceId,
  refreshActivity,
  SensorStore,
} from "@medusa/domain";
import { Effect, Either, Schema } from "effect";
import { type CommandOf, type CommandOutput, processOutput, runCommand } from "../command-line.js";
import { STAGES, type Stage } from "../settings.js";

export const USAGE = `Usage: medusa-activity recompute --device ID [--device ID…] --from ISO --to ISO [options]

Computes a device's activity blocks again from the samples stored now, for
every patient with samples in the range, and writes those that differ (a
block whose samples all moved away is deleted): what the activity function
does for each change in the sensor table's stream. Use it after a batch of
that function ended in its failure queue (ActivityFailureQueueUrl): those
blocks stay stale until the device's next change. The queue's message names
the stream's shard, sequence numbers and arrival times, not the devices: take
the devices and the times from the function's logs or the ingest's, and give
a range that covers them. Idempotent: a second run writes nothing. Works on
the stack's tables in AWS (your AWS credentials) or in DynamoDB Local
(--endpoint, or AWS_ENDPOINT_URL_DYNAMODB).

Options:
  --device ID          the device (repeat for several)
  --from ISO           start of the range (ISO 8601, e.g. 2026-11-29T08:00:00Z)
  --to ISO             end of the range (exclusive); blocks within 15 minutes
                       of it and of --from are computed too
  --stage dev|prod     the stack whose tables to use (<stage>-medusa-…)
                       (default: MEDUSA_TABLE_PREFIX, MEDUSA_SENSOR_TABLE and
                       MEDUSA_ACTIVITY_TABLE, or the unprefixed names)
  --retention-days D   the stack's retention (the blocks' expiry; default
                       MEDUSA_RETENTION_DAYS, or 30, as the stack's default)
  --endpoint URL       DynamoDB Local (credentials are then DynamoDB Local's)
  --region REGION      AWS region (default: AWS_REGION / your profile)
  -h, --help           this text
`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

const DAY_MS = 86_400_000;
/** The longest range one command takes (the stack keeps samples for `retention-days`). */
export const MAX_RANGE_DAYS = 366;

export interface RecomputeCommand {
  readonly devices: ReadonlyArray<DeviceId>;
  readonly from: number;
  readonly to: number;
  readonly retentionMs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly endpoint?: string;
  readonly region?: string;
}

const isoTime = (name: string, v: string | undefined): number => {
  if (v === undefined) throw new UsageError(`--${name} is required`);
  // A date and a time with its zone: a time without one would be the machine's.
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v))
    throw new UsageError(`--${name} ${v}: an ISO 8601 date or time with its zone (…Z)`);
  const t = Date.parse(v);
  if (!Number.isFinite(t)) throw new UsageError(`--${name} ${v}: not a time`);
  return t;
};

/** The command line as a command; a bad one is a `UsageError` naming it. */
export const parseCommandLine = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { help: true } | ({ help: false } & RecomputeCommand) => {
  let parsed: ReturnType<
    typeof parseArgs<{
      args: Array<string>;
      strict: true;
      allowPositionals: true;
      options: {
        device: { type: "string"; multiple: true };
        from: { type: "string" };
        to: { type: "string" };
        stage: { type: "string" };
        "retention-days": { type: "string" };
        endpoint: { type: "string" };
        region: { type: "string" };
        help: { type: "boolean"; short: "h" };
      };
    }>
  >;
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: true,
      options: {
        device: { type: "string", multiple: true },
        from: { type: "string" },
        to: { type: "string" },
        stage: { type: "string" },
        "retention-days": { type: "string" },
        endpoint: { type: "string" },
        region: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  const [name, ...rest] = positionals;
  if (name === undefined) throw new UsageError("a command is required: recompute");
  if (name !== "recompute") throw new UsageError(`unknown command ${name}: recompute`);
  if (rest.length > 0) throw new UsageError(`recompute takes no arguments (${rest.join(" ")})`);
  const devices = (values.device ?? []).map((d) => {
    const id = Schema.decodeUnknownEither(DeviceId)(d);
    if (Either.isLeft(id)) throw new UsageError(`--device ${d}: not a device id`);
    return id.right;
  });
  if (devices.length === 0) throw new UsageError("--device is required");
  const from = isoTime("from", values.from);
  const to = isoTime("to", values.to);
  if (to <= from) throw new UsageError("--to must be after --from");
  if (to - from > MAX_RANGE_DAYS * DAY_MS)
    throw new UsageError(`at most ${MAX_RANGE_DAYS} days at a time`);
  if (values.stage !== undefined && !STAGES.includes(values.stage as Stage))
    throw new UsageError(`--stage ${values.stage}: one of ${STAGES.join(", ")}`);
  const retention = values["retention-days"] ?? env.MEDUSA_RETENTION_DAYS ?? "30";
  const days = Number(retention);
  if (!Number.isInteger(days) || days < 1)
    throw new UsageError(`--retention-days ${retention}: a whole number of days, 1 or more`);
  const endpoint = values.endpoint ?? env.AWS_ENDPOINT_URL_DYNAMODB;
  const region = values.region ?? env.AWS_REGION;
  return {
    help: false,
    devices,
    from,
    to,
    retentionMs: days * DAY_MS,
    env: values.stage !== undefined ? { MEDUSA_TABLE_PREFIX: `${values.stage}-` } : env,
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
  };
};

const add = (a: ActivityRefreshReport, b: ActivityRefreshReport): ActivityRefreshReport => ({
  devices: a.devices,
  blocks: a.blocks + b.blocks,
  written: a.written + b.written,
  removed: a.removed + b.removed,
  unchanged: a.unchanged + b.unchanged,
});

/** Runs the command; returns the exit code (0 done, 1 DynamoDB failure, 2 usage). */
export const main = (
  argv: ReadonlyArray<string>,
  io: CommandOutput & {
    readonly env?: Readonly<Record<string, string | undefined>>;
  } = processOutput,
): Promise<number> =>
  runCommand<CommandOf<typeof parseCommandLine>>(io, {
    usage: USAGE,
    parse: () => parseCommandLine(argv, io.env ?? process.env),
    run: async (parsed) => {
      const client = makeDynamoClient({
        ...(parsed.region ? { region: parsed.region } : parsed.endpoint ? { region: "local" } : {}),
        ...(parsed.endpoint ? { endpoint: parsed.endpoint, credentials: localCredentials } : {}),
      });
      const tables = tableNamesFromEnv(parsed.env);
      const stores = makeDynamoStores({ client, tables });
      const options = { epochMs: DEFAULT_EPOCH_MS, retentionMs: parsed.retentionMs };
      try {
        for (const deviceId of parsed.devices) {
          let total: ActivityRefreshReport = {
            devices: 1,
            blocks: 0,
            written: 0,
            removed: 0,
            unchanged: 0,
          };
          // A day at a time, so a long range shows its progress (and each read stays small).
          for (let start = parsed.from; start < parsed.to; start += DAY_MS) {
            const end = Math.min(parsed.to, start + DAY_MS);
            const report = await Effect.runPromise(
              refreshActivity([{ deviceId, start, end }], options).pipe(
                Effect.provideService(SensorStore, stores.sensors),
                Effect.provideService(ActivityStore, stores.activity),
              ),
            );
            total = add(total, report);
            io.out(
              `${deviceId} ${new Date(start).toISOString()}: ${report.blocks} blocks computed, ${report.written} written, ${report.removed} removed, ${report.unchanged} unchanged\n`,
            );
          }
          io.out(
            `${deviceId}: ${total.blocks} blocks computed again, ${total.written} written, ${total.removed} removed, ${total.unchanged} unchanged (${tables.activity})\n`,
          );
        }
        return 0;
      } finally {
        client.destroy();
      }
    },
  });

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
