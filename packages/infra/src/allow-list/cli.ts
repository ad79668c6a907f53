import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import {
  localCredentials,
  makeDynamoAllowList,
  makeDynamoClient,
  tableNamesFromEnv,
} from "@medusa/adapters";
import {
  type AllowListEntry,
  BatchName,
  CertificateId,
  type EpochMillis,
  epochMillis,
  SerialNumber,
} from "@medusa/domain";
import { parse as parseCsv } from "csv-parse/sync";
import { Effect, Either, ParseResult, Schema } from "effect";
import { type CommandOf, type CommandOutput, processOutput, runCommand } from "../command-line.js";
import { STAGES, type Stage } from "../settings.js";

export const USAGE = `Usage: allow-list <command> [options]

The serial numbers that may provision themselves with a claim certificate
(the pre-provisioning hook refuses every other one). Works on the stack's
allow-list table in AWS (your AWS credentials) or in DynamoDB Local
(--endpoint, or AWS_ENDPOINT_URL_DYNAMODB).

Commands:
  import FILE          add the serial numbers of a CSV file: a header row with a
                       serial_number (or serial) column and optionally batch and
                       claim_certificate_id columns, or one serial number a line.
                       Serials already listed are left as they are.
  add SERIAL...        add these serial numbers
  list                 every entry, one a line (--json: a JSON array)
  remove SERIAL...     take these serial numbers off the list

Options:
  --stage dev|prod     the stack whose table to use (table <stage>-medusa-device-allow-list)
  --table NAME         the table by name instead (default: MEDUSA_ALLOW_LIST_TABLE,
                       MEDUSA_TABLE_PREFIX, or medusa-device-allow-list)
  --batch NAME         the production batch of the serials added (a label)
  --claim-certificate-id ID
                       the serials added may provision only with this claim certificate
  --endpoint URL       DynamoDB Local (credentials are then DynamoDB Local's)
  --region REGION      AWS region (default: AWS_REGION / your profile)
  --json               list: JSON instead of a table
  -h, --help           this text
`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

type Command =
  | { readonly kind: "import"; readonly file: string }
  | { readonly kind: "add"; readonly serials: ReadonlyArray<string> }
  | { readonly kind: "list"; readonly json: boolean }
  | { readonly kind: "remove"; readonly serials: ReadonlyArray<string> };

export interface ParsedCommandLine {
  readonly command: Command;
  readonly table: string;
  readonly batch?: string;
  readonly claimCertificateId?: string;
  readonly endpoint?: string;
  readonly region?: string;
}

const parse = (argv: ReadonlyArray<string>) =>
  parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: true,
    options: {
      stage: { type: "string" },
      table: { type: "string" },
      batch: { type: "string" },
      "claim-certificate-id": { type: "string" },
      endpoint: { type: "string" },
      region: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });

const problem = (e: ParseResult.ParseError) =>
  ParseResult.ArrayFormatter.formatErrorSync(e)
    .map((issue) => issue.message)
    .join("; ");

/** The command line as a command; a bad one is a `UsageError` naming it. */
export const parseCommandLine = (
  argv: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): { help: true } | ({ help: false } & ParsedCommandLine) => {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  const [name, ...rest] = positionals;
  let command: Command;
  switch (name) {
    case "import":
      if (rest.length !== 1) throw new UsageError("import takes one FILE");
      command = { kind: "import", file: rest[0] as string };
      break;
    case "add":
    case "remove":
      if (rest.length === 0) throw new UsageError(`${name} takes one or more serial numbers`);
      command = { kind: name, serials: rest };
      break;
    case "list":
      if (rest.length > 0) throw new UsageError("list takes no arguments");
      command = { kind: "list", json: values.json ?? false };
      break;
    case undefined:
      throw new UsageError("a command is required: import, add, list or remove");
    default:
      throw new UsageError(`unknown command ${name}: import, add, list or remove`);
  }
  if (values.stage !== undefined && !STAGES.includes(values.stage as Stage))
    throw new UsageError(`--stage ${values.stage}: one of ${STAGES.join(", ")}`);
  if (values.stage !== undefined && values.table !== undefined)
    throw new UsageError("--stage and --table: choose one");
  const table =
    values.table ??
    tableNamesFromEnv(
      values.stage !== undefined ? { MEDUSA_TABLE_PREFIX: `${values.stage}-` } : env,
    ).allowList;
  if (values.batch !== undefined) {
    const batch = Schema.decodeUnknownEither(BatchName)(values.batch);
    if (Either.isLeft(batch)) throw new UsageError(`--batch: ${problem(batch.left)}`);
  }
  if (values["claim-certificate-id"] !== undefined) {
    const id = Schema.decodeUnknownEither(CertificateId)(values["claim-certificate-id"]);
    if (Either.isLeft(id)) throw new UsageError(`--claim-certificate-id: ${problem(id.left)}`);
  }
  const endpoint = values.endpoint ?? env.AWS_ENDPOINT_URL_DYNAMODB;
  const region = values.region ?? env.AWS_REGION;
  return {
    help: false,
    command,
    table,
    ...(values.batch !== undefined ? { batch: values.batch } : {}),
    ...(values["claim-certificate-id"] !== undefined
      ? { claimCertificateId: values["claim-certificate-id"] }
      : {}),
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
  };
};

/** One row of a manufacturing list: a serial number and, optionally, its batch and claim certificate. */
export interface ListRow {
  readonly line: number;
  readonly serialNumber: string;
  readonly batch?: string;
  readonly claimCertificateId?: string;
}

/**
 * The rows of a manufacturing list (CSV, RFC 4180 quoting): with a header
 * naming `serial_number` (or `serial`, `serialnumber`), `batch` and
 * `claim_certificate_id` columns in any order; without one, the first column
 * of every line is a serial number. Blank lines and `#` comments are skipped.
 */
export const readManufacturingList = (text: string): ReadonlyArray<ListRow> => {
  // The line each record ends on, as the parser counts them; a quoted cell may span lines.
  const endLines: Array<number> = [];
  const records = parseCsv(text, {
    bom: true,
    comment: "#",
    comment_no_infix: true,
    skip_empty_lines: true,
    relax_column_count: true,
    trim: true,
    on_record: (record, context) => {
      endLines.push(context.lines);
      return record;
    },
  });
  const lines = records
    .map((cells, i) => ({
      line: (endLines[i] ?? 0) - cells.join("").split("\n").length + 1,
      cells,
    }))
    .filter(({ cells }) => !cells.every((c) => c === ""));
  const first = lines[0];
  if (first === undefined) return [];
  const header = first.cells.map((c) => c.toLowerCase().replace(/[\s-]/g, "_"));
  const serialColumn = header.findIndex((h) =>
    ["serial_number", "serial", "serialnumber"].includes(h),
  );
  if (serialColumn < 0)
    return lines.map(({ line, cells }) => ({ line, serialNumber: cells[0] ?? "" }));
  const batchColumn = header.indexOf("batch");
  const claimColumn = header.indexOf("claim_certificate_id");
  return lines.slice(1).map(({ line, cells }) => {
    const batch = batchColumn >= 0 ? cells[batchColumn] : undefined;
    const claim = claimColumn >= 0 ? cells[claimColumn] : undefined;
    return {
      line,
      serialNumber: cells[serialColumn] ?? "",
      ...(batch ? { batch } : {}),
      ...(claim ? { claimCertificateId: claim } : {}),
    };
  });
};

const decodeEntry = Schema.decodeUnknownEither(
  Schema.Struct({
    serialNumber: SerialNumber,
    batch: Schema.optionalWith(BatchName, { exact: true }),
    claimCertificateId: Schema.optionalWith(CertificateId, { exact: true }),
  }),
);

/**
 * The rows as entries, or every row that is not one, with its line and why:
 * a list is imported whole or not at all, and a serial listed twice is a
 * mistake in the list, not something to guess about.
 */
export const entriesOf = (
  rows: ReadonlyArray<ListRow>,
  defaults: { readonly batch?: string; readonly claimCertificateId?: string },
  addedAt: EpochMillis,
): Either.Either<ReadonlyArray<AllowListEntry>, ReadonlyArray<string>> => {
  const problems: Array<string> = [];
  const entries: Array<AllowListEntry> = [];
  const seen = new Map<string, number>();
  for (const row of rows) {
    const decoded = decodeEntry({
      serialNumber: row.serialNumber,
      ...((row.batch ?? defaults.batch) ? { batch: row.batch ?? defaults.batch } : {}),
      ...((row.claimCertificateId ?? defaults.claimCertificateId)
        ? { claimCertificateId: row.claimCertificateId ?? defaults.claimCertificateId }
        : {}),
    });
    if (Either.isLeft(decoded)) {
      problems.push(
        `line ${row.line}: ${JSON.stringify(row.serialNumber)}: ${problem(decoded.left)}`,
      );
      continue;
    }
    const earlier = seen.get(decoded.right.serialNumber);
    if (earlier !== undefined) {
      problems.push(`line ${row.line}: ${row.serialNumber} is listed on line ${earlier} already`);
      continue;
    }
    seen.set(decoded.right.serialNumber, row.line);
    entries.push({ ...decoded.right, addedAt });
  }
  return problems.length > 0 ? Either.left(problems) : Either.right(entries);
};

/** What the command reads and writes besides its arguments (tests give their own). */
type AllowListIo = CommandOutput & {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly readFile?: (path: string) => string;
  readonly now?: () => number;
};

/** Runs the command; returns the exit code (0 done, 1 DynamoDB failure, 2 usage or a bad list). */
export const main = (
  argv: ReadonlyArray<string>,
  io: AllowListIo = processOutput,
): Promise<number> =>
  runCommand<CommandOf<typeof parseCommandLine>>(io, {
    usage: USAGE,
    parse: () => parseCommandLine(argv, io.env ?? process.env),
    run: (parsed) => run(parsed, io),
  });

const run = async (
  parsed: CommandOf<typeof parseCommandLine>,
  io: AllowListIo,
): Promise<number> => {
  const { command } = parsed;
  const addedAt = epochMillis((io.now ?? Date.now)());
  let rows: ReadonlyArray<ListRow> = [];
  if (command.kind === "import") {
    try {
      rows = readManufacturingList((io.readFile ?? ((p) => readFileSync(p, "utf8")))(command.file));
    } catch (e) {
      io.err(`${command.file}: ${e instanceof Error ? e.message : String(e)}\n`);
      return 2;
    }
  } else if (command.kind === "add" || command.kind === "remove")
    rows = command.serials.map((serialNumber, i) => ({ line: i + 1, serialNumber }));
  const defaults = {
    ...(parsed.batch !== undefined ? { batch: parsed.batch } : {}),
    ...(parsed.claimCertificateId !== undefined
      ? { claimCertificateId: parsed.claimCertificateId }
      : {}),
  };
  const entries = entriesOf(rows, defaults, addedAt);
  if (Either.isLeft(entries)) {
    io.err(
      `nothing changed: ${entries.left.length} ${command.kind === "import" ? "row(s) of the list" : "argument(s)"} are not serial numbers to list:\n  ${entries.left.join("\n  ")}\n`,
    );
    return 2;
  }
  if (command.kind === "import" && entries.right.length === 0) {
    io.err(`${command.file}: no serial numbers in it; nothing changed\n`);
    return 2;
  }
  const client = makeDynamoClient({
    ...(parsed.region ? { region: parsed.region } : parsed.endpoint ? { region: "local" } : {}),
    ...(parsed.endpoint ? { endpoint: parsed.endpoint, credentials: localCredentials } : {}),
  });
  const store = makeDynamoAllowList({
    client,
    tables: { ...tableNamesFromEnv({}), allowList: parsed.table },
  });
  try {
    switch (command.kind) {
      case "import":
      case "add": {
        const r = await Effect.runPromise(store.add(entries.right));
        io.out(
          `${r.added.length} added, ${r.existing.length} listed already (left as they were) in ${parsed.table}\n`,
        );
        if (r.existing.length > 0) io.out(`  listed already: ${r.existing.join(", ")}\n`);
        return 0;
      }
      case "remove": {
        for (const e of entries.right) await Effect.runPromise(store.remove(e.serialNumber));
        io.out(`${entries.right.length} removed from ${parsed.table}\n`);
        return 0;
      }
      case "list": {
        const all = await Effect.runPromise(store.list());
        if (command.json) {
          io.out(`${JSON.stringify(all)}\n`);
          return 0;
        }
        io.out(
          `${"serial number".padEnd(24)} ${"batch".padEnd(24)} ${"claim certificate".padEnd(16)} added\n`,
        );
        for (const e of all)
          io.out(
            `${e.serialNumber.padEnd(24)} ${(e.batch ?? "-").padEnd(24)} ${(e.claimCertificateId?.slice(0, 12) ?? "any").padEnd(16)} ${new Date(e.addedAt).toISOString()}\n`,
          );
        io.out(`${all.length} serial number(s) in ${parsed.table}\n`);
        return 0;
      }
    }
  } finally {
    client.destroy();
  }
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
