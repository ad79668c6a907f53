import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { makeDynamoClient, tableNamesFromEnv } from "@medusa/adapters";
import {
  Actor,
  CorrectionsFile,
  DAY_MS,
  type EpochMillis,
  RESOLUTIONS,
  type Resolutions,
  type RowCorrection,
} from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";
import { type ImportReport, runImport } from "./run-import.js";

export const DEFAULT_MAPPING_TABLE = "device-patient-mapping";
export const DEFAULT_IMPORT_ACTOR = "import@medusa-link";

export const USAGE = `Usage: medusa-import [options]

Imports the older system's device-patient-mapping table (and, with
--sensor-table, its one-item-per-reading sensor table) into MeDUSA Link:
each row becomes assignment commits recorded by the import actor, the row
kept on the events as provenance. Rows that are inconsistent are reported
with their reasons and not imported; a device with such a row is held back
whole until you choose (--resolve, --corrections). Running it again writes
nothing new. MeDUSA Link's tables are named as for the other services
(MEDUSA_TABLE_PREFIX, MEDUSA_*_TABLE).

  --table NAME          the historical mapping table (default ${DEFAULT_MAPPING_TABLE})
  --sensor-table NAME   also import this sensor table (one item per reading)
  --dry-run             read and plan, print what would be done, write nothing
  --resolve KIND=RULE   a rule for one kind of inconsistency (repeatable):
                          several-active=end-at-next   an active row followed by another ends where it starts
                          overlap=end-at-next          an overlapping row ends where the next starts
                          ended-without-end=end-at-next  an ended row without an end, likewise
                          active-with-end=keep-end     an active row with an end is completed at it
  --corrections FILE    JSON: [{"device_id","assignment_timestamp", "skip": true | "set": {…}, "reason"}]
  --actor EMAIL         who the events are recorded by (default ${DEFAULT_IMPORT_ACTOR})
  --retention-days N    keep imported samples N days after they were taken (default 30).
                          A reading taken longer ago than that is refused with that
                          reason (its expiry has passed: DynamoDB's TTL would delete
                          it on arrival); import old history with a longer retention
  --region REGION       AWS region (default: AWS_REGION / your profile)
  --endpoint URL        DynamoDB endpoint (DynamoDB Local: http://127.0.0.1:8000)
  --json                the final report as one JSON object
  -h, --help            this text

Exit status: 0 when every row was imported (or skipped by a correction),
2 when rows were refused, 1 on a usage or storage error.
`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

const parse = (argv: ReadonlyArray<string>) =>
  parseArgs({
    // `pnpm run import -- …` hands the script the `--` too.
    args: argv[0] === "--" ? argv.slice(1) : [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      table: { type: "string" },
      "sensor-table": { type: "string" },
      "dry-run": { type: "boolean" },
      resolve: { type: "string", multiple: true },
      corrections: { type: "string" },
      actor: { type: "string" },
      "retention-days": { type: "string" },
      region: { type: "string" },
      endpoint: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });

export interface CommandLine {
  readonly mappingTable: string;
  readonly sensorTable?: string;
  readonly dryRun: boolean;
  readonly resolve: Resolutions;
  readonly corrections: ReadonlyArray<RowCorrection>;
  readonly actor: Actor;
  readonly retentionMs?: number;
  readonly region?: string;
  readonly endpoint?: string;
  readonly json: boolean;
}

const decodeCorrections = Schema.decodeUnknownEither(CorrectionsFile);
const decodeActor = Schema.decodeUnknownEither(Actor);

/** The command line as options; a bad one is a `UsageError` naming it. */
export const parseCommandLine = (
  argv: ReadonlyArray<string>,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): { help: true } | ({ help: false } & CommandLine) => {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (values.help) return { help: true };
  const rules: Record<string, string> = {};
  for (const r of values.resolve ?? []) {
    const [kind = "", rule = ""] = r.split("=");
    const allowed = (RESOLUTIONS as Record<string, ReadonlyArray<string> | undefined>)[kind];
    if (allowed === undefined)
      throw new UsageError(
        `--resolve ${r}: the kind is one of ${Object.keys(RESOLUTIONS).join(", ")}`,
      );
    if (!allowed.includes(rule))
      throw new UsageError(`--resolve ${r}: for ${kind} the rule is ${allowed.join(" or ")}`);
    rules[kind] = rule;
  }
  let corrections: ReadonlyArray<RowCorrection> = [];
  if (values.corrections !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(readFile(values.corrections));
    } catch (e) {
      throw new UsageError(
        `--corrections ${values.corrections}: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    const decoded = decodeCorrections(json);
    if (Either.isLeft(decoded))
      throw new UsageError(
        `--corrections ${values.corrections}: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left)}`,
      );
    corrections = decoded.right;
  }
  const actor = decodeActor(values.actor ?? DEFAULT_IMPORT_ACTOR);
  if (Either.isLeft(actor)) throw new UsageError(`--actor ${values.actor}: an e-mail address`);
  let retentionMs: number | undefined;
  if (values["retention-days"] !== undefined) {
    const days = Number(values["retention-days"]);
    if (!Number.isFinite(days) || days <= 0)
      throw new UsageError(`--retention-days ${values["retention-days"]}: a positive number`);
    retentionMs = days * DAY_MS;
  }
  return {
    help: false,
    mappingTable: values.table ?? DEFAULT_MAPPING_TABLE,
    ...(values["sensor-table"] !== undefined ? { sensorTable: values["sensor-table"] } : {}),
    dryRun: values["dry-run"] ?? false,
    resolve: rules as Resolutions,
    corrections,
    actor: actor.right,
    ...(retentionMs !== undefined ? { retentionMs } : {}),
    ...(values.region !== undefined ? { region: values.region } : {}),
    ...(values.endpoint !== undefined ? { endpoint: values.endpoint } : {}),
    json: values.json ?? false,
  };
};

/** The counts the issue asks for, as one object (the last line with `--json`). */
export const countsOf = (report: ImportReport) => {
  const rejected = report.devices.filter((d) => d._tag === "Rejected");
  const rejectedRows = rejected.reduce(
    (n, d) => n + (report.plan.devices.find((p) => p.deviceId === d.deviceId)?.rows.length ?? 0),
    0,
  );
  return {
    rows_read: report.plan.rowsRead,
    commits_written: report.devices.reduce((n, d) => n + d.written, 0),
    commits_already_imported: report.devices.reduce((n, d) => n + d.alreadyImported, 0),
    commits_to_write: report.commitsToWrite,
    rows_skipped: report.plan.skipped.length,
    rows_refused: report.plan.refused.length + rejectedRows,
    sensor_rows_read: report.sensorRowsRead,
    samples_imported: report.readings?.samplesImported ?? 0,
    samples_attributed: report.readings?.samplesAttributed ?? 0,
    sensor_items_written: report.readings?.itemsWritten ?? 0,
    sensor_rows_refused: report.sensorRowsRefused.length,
  };
};

/** The report for a person: what was (or would be) done, then every refused row and why. */
export const renderReport = (report: ImportReport, dryRun: boolean): string => {
  const c = countsOf(report);
  const lines: Array<string> = [];
  if (dryRun) {
    lines.push("Dry run: nothing was written.", "");
    for (const device of report.plan.devices) {
      lines.push(`${device.deviceId}:`);
      for (const s of device.steps)
        lines.push(
          `  ${new Date(s.command.at).toISOString()}  ${s.command._tag === "AssignDevice" ? "assign to" : "end for "} ${s.command.patientId}${s.command._tag === "EndAssignment" ? ` (${s.command.reason})` : ""}  [row ${s.row}${s.provenance.resolutions ? `; ${s.provenance.resolutions.join(", ")}` : ""}${s.provenance.correction ? "; corrected" : ""}]`,
        );
    }
    if (report.plan.devices.length > 0) lines.push("");
  }
  const refused = [
    ...report.plan.refused.map((r) => ({
      row: r.row,
      reasons: r.problems.map((p) => `${p.kind}: ${p.detail}`),
    })),
    ...report.devices.flatMap((d) =>
      d._tag === "Rejected"
        ? [
            {
              row: d.row,
              reasons: [
                `rejected: the device's log refused it (${d.error._tag}: ${d.error.message}); ${d.written} of its commits were written`,
              ],
            },
          ]
        : [],
    ),
  ];
  if (refused.length > 0) {
    lines.push("Refused rows:");
    for (const r of refused) lines.push(`  ${r.row}`, ...r.reasons.map((x) => `    ${x}`));
    lines.push("");
  }
  if (report.plan.unusedCorrections.length > 0)
    lines.push(
      `Corrections naming no row (check the file): ${report.plan.unusedCorrections.join(", ")}`,
      "",
    );
  for (const r of report.sensorRowsRefused)
    lines.push(`Sensor row ${dryRun ? "to refuse" : "refused"}: ${r.row}: ${r.reason}`);
  const table: ReadonlyArray<[string, number]> = dryRun
    ? [
        ["rows read", c.rows_read],
        ["commits to write", c.commits_to_write],
        ["rows skipped (corrections)", c.rows_skipped],
        ["rows refused", c.rows_refused],
        ["sensor rows read", c.sensor_rows_read],
        ["sensor rows to refuse", c.sensor_rows_refused],
      ]
    : [
        ["rows read", c.rows_read],
        ["commits written", c.commits_written],
        ["commits already imported", c.commits_already_imported],
        ["rows skipped (corrections)", c.rows_skipped],
        ["rows refused", c.rows_refused],
        ["sensor rows read", c.sensor_rows_read],
        ["samples imported", c.samples_imported],
        ["  of which attributed to a patient", c.samples_attributed],
        ["sensor items written", c.sensor_items_written],
        ["sensor rows refused", c.sensor_rows_refused],
      ];
  for (const [label, n] of table) lines.push(`${label.padEnd(36)}${String(n).padStart(10)}`);
  return `${lines.join("\n")}\n`;
};

export interface Io {
  readonly stdout: (s: string) => void;
  readonly stderr: (s: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now: () => number;
  readonly readFile?: (path: string) => string;
  /** Whether stderr is a terminal: the progress line is rewritten in place. */
  readonly tty?: boolean;
}

const processIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  now: Date.now,
  tty: process.stderr.isTTY === true,
};

/** `medusa-import …`: the exit status. */
export const main = async (argv: ReadonlyArray<string>, io: Io = processIo): Promise<number> => {
  let line: ReturnType<typeof parseCommandLine>;
  try {
    line = parseCommandLine(argv, io.readFile);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`${e.message}\n\n${USAGE}`);
      return 1;
    }
    throw e;
  }
  if (line.help) {
    io.stdout(USAGE);
    return 0;
  }
  const endpoint = line.endpoint ?? io.env.AWS_ENDPOINT_URL_DYNAMODB;
  const region = line.region ?? io.env.AWS_REGION ?? (endpoint !== undefined ? "local" : undefined);
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = io.env;
  const client = makeDynamoClient({
    ...(region !== undefined ? { region } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
    // Otherwise the SDK's own chain (profile, SSO, instance role).
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(io.env.AWS_SESSION_TOKEN ? { sessionToken: io.env.AWS_SESSION_TOKEN } : {}),
          },
        }
      : {}),
  });
  let last = "";
  try {
    const report = await runImport({
      client,
      tables: tableNamesFromEnv(io.env),
      mappingTable: line.mappingTable,
      ...(line.sensorTable !== undefined ? { sensorTable: line.sensorTable } : {}),
      actor: line.actor,
      now: io.now() as EpochMillis,
      dryRun: line.dryRun,
      resolve: line.resolve,
      corrections: line.corrections,
      ...(line.retentionMs !== undefined ? { retentionMs: line.retentionMs } : {}),
      progress: (p) => {
        if (p === last) return;
        last = p;
        io.stderr(io.tty ? `\r${p}\x1b[K` : `${p}\n`);
      },
    });
    if (io.tty && last !== "") io.stderr("\n");
    io.stdout(
      line.json ? `${JSON.stringify(countsOf(report))}\n` : renderReport(report, line.dryRun),
    );
    const c = countsOf(report);
    return c.rows_refused > 0 || c.sensor_rows_refused > 0 ? 2 : 0;
  } catch (e) {
    io.stderr(`import failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  } finally {
    client.destroy();
  }
};

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exitCode = await main(process.argv.slice(2));
