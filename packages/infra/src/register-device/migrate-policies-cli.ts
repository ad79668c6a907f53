import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { IoTClient } from "@aws-sdk/client-iot";
import { DeviceId } from "@medusa/domain";
import { Schema } from "effect";
import { type CommandOf, type CommandOutput, processOutput, runCommand } from "../command-line.js";
import { DEVICE_POLICY_PARTS } from "../iot.js";
import { devicePolicyNames, STAGES, type Stage } from "../settings.js";
import { type MigratePoliciesOptions, migrateDevicePolicies } from "./migrate-policies.js";

export const MIGRATE_USAGE = `Usage: migrate-device-policies [--stage dev|prod] [--thing NAME ...] [--dry-run]

Certificates registered before the device policy was split in three carry
medusa-<stage>-device only: their devices send data but get no shadow and no
jobs. For each thing (those named, or every thing of the account), for each
ACTIVE certificate attached to it that carries medusa-<stage>-device, this
attaches the stage's other device policies it lacks
(medusa-<stage>-device-shadow, medusa-<stage>-device-jobs). What is attached
already is left alone: running it twice is harmless, and a run that failed
half-way is finished by running it again.

  --stage dev|prod     which stack's policies (default dev)
  --thing NAME         only this thing, repeated for each (default: every thing, ListThings)
  --dry-run            print what would be attached, attach nothing
  --region REGION      AWS region (default: AWS_REGION / your profile)
  -h, --help           this text
`;

const isDeviceId = Schema.is(DeviceId);

export class MigrateUsageError extends Error {
  override readonly name = "MigrateUsageError";
}

export const parseMigrateCommandLine = (
  argv: ReadonlyArray<string>,
): { help: true } | { help: false; region?: string; options: MigratePoliciesOptions } => {
  let values: ReturnType<typeof parse>["values"];
  try {
    values = parse(argv).values;
  } catch (e) {
    throw new MigrateUsageError(e instanceof Error ? e.message : String(e));
  }
  if (values.help) return { help: true };
  const stage = values.stage ?? "dev";
  if (!STAGES.includes(stage as Stage))
    throw new MigrateUsageError(`--stage ${stage}: one of ${STAGES.join(", ")}`);
  for (const thing of values.thing ?? [])
    if (!isDeviceId(thing))
      throw new MigrateUsageError(`--thing ${thing}: 1-128 characters of a-z A-Z 0-9 : _ -`);
  const names = devicePolicyNames(stage as Stage);
  return {
    help: false,
    ...(values.region ? { region: values.region } : {}),
    options: {
      policyNames: DEVICE_POLICY_PARTS.map((part) => names[part]),
      ...(values.thing ? { things: values.thing } : {}),
      dryRun: values["dry-run"] ?? false,
    },
  };
};

const parse = (argv: ReadonlyArray<string>) =>
  parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      stage: { type: "string" },
      thing: { type: "string", multiple: true },
      "dry-run": { type: "boolean" },
      region: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });

/** Runs the command; returns the exit code (0 done, 1 AWS failure, 2 usage). */
export const migrateMain = (
  argv: ReadonlyArray<string>,
  io: CommandOutput & {
    readonly client?: (region: string | undefined) => IoTClient;
  } = processOutput,
): Promise<number> =>
  runCommand<CommandOf<typeof parseMigrateCommandLine>>(io, {
    usage: MIGRATE_USAGE,
    parse: () => parseMigrateCommandLine(argv),
    run: (parsed) => migrate(parsed, io),
  });

const migrate = async (
  parsed: CommandOf<typeof parseMigrateCommandLine>,
  io: CommandOutput & { readonly client?: (region: string | undefined) => IoTClient },
): Promise<number> => {
  const iot = (io.client ?? ((region) => new IoTClient(region ? { region } : {})))(parsed.region);
  try {
    const r = await migrateDevicePolicies(iot, parsed.options, { log: (l) => io.out(`${l}\n`) });
    io.out(
      [
        "",
        `${r.dryRun ? "dry run: " : ""}${r.things} thing(s), ${r.certificates} certificate(s) of the stage, ${r.attached.length} polic${r.attached.length === 1 ? "y" : "ies"} ${r.dryRun ? "to attach" : "attached"}`,
        ...r.skipped.map(
          (s) => `  skipped ${s.thingName} ${s.certificateId.slice(0, 12)}…: ${s.reason}`,
        ),
        "",
      ].join("\n"),
    );
    return 0;
  } finally {
    iot.destroy();
  }
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await migrateMain(process.argv.slice(2));
}
