import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { IoTClient } from "@aws-sdk/client-iot";
import { type CommandOf, type CommandOutput, processOutput, runCommand } from "../command-line.js";
import { claimPolicyName, provisioningTemplateName } from "../provisioning.js";
import { STAGES, type Stage } from "../settings.js";
import {
  type ClaimCertificateOptions,
  claimFiles,
  createClaimCertificate,
} from "./claim-certificate.js";

export const USAGE = `Usage: claim-certificate --batch NAME [options]

Creates the claim certificate of a production batch in AWS IoT Core (the
account and region of your AWS credentials): AWS makes the key pair and the
certificate, the stack's claim policy is attached (it may only provision), and
the certificate, its private key (0600: AWS never returns it again), Amazon's
root CA and the [provisioning] table for the batch's agents are written to
--out. Only then is the certificate activated; a failure half-way undoes
what was done. Flash the files on every device of the batch, put the batch's
serial numbers on the allow-list (allow-list import … --claim-certificate-id
<the id printed>), and keep the key offline.

  --batch NAME         the batch (1-64 of [A-Za-z0-9._-]; names the files) (required)
  --stage dev|prod     which stack's claim policy and template (default dev)
  --out DIR            where to write the files (default ./claim-<batch>, made 0700)
  --region REGION      AWS region (default: AWS_REGION / your profile)
  --overwrite          replace files already in --out
  -h, --help           this text
`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export const parseCommandLine = (
  argv: ReadonlyArray<string>,
): { help: true } | { help: false; region?: string; options: ClaimCertificateOptions } => {
  let values: {
    batch?: string;
    stage?: string;
    out?: string;
    region?: string;
    overwrite?: boolean;
    help?: boolean;
  };
  try {
    values = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        batch: { type: "string" },
        stage: { type: "string" },
        out: { type: "string" },
        region: { type: "string" },
        overwrite: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (values.help) return { help: true };
  if (!values.batch) throw new UsageError("--batch is required");
  const stage = values.stage ?? "dev";
  if (!STAGES.includes(stage as Stage))
    throw new UsageError(`--stage ${stage}: one of ${STAGES.join(", ")}`);
  return {
    help: false,
    ...(values.region ? { region: values.region } : {}),
    options: {
      batch: values.batch,
      policyName: claimPolicyName(stage as Stage),
      templateName: provisioningTemplateName(stage as Stage),
      outDir: resolve(values.out ?? `claim-${values.batch}`),
      ...(values.overwrite ? { overwrite: true } : {}),
    },
  };
};

/** The `claim-certificate` command; resolves to the exit code (0 done, 1 AWS failure, 2 usage). */
export const main = (
  argv: ReadonlyArray<string>,
  makeClient: (region?: string) => IoTClient = (region) => new IoTClient(region ? { region } : {}),
  io: CommandOutput = processOutput,
): Promise<number> =>
  runCommand<CommandOf<typeof parseCommandLine>>(io, {
    usage: USAGE,
    prefix: "claim-certificate: ",
    parse: () => parseCommandLine(argv),
    run: async (parsed) => {
      const iot = makeClient(parsed.region);
      try {
        const made = await createClaimCertificate(iot, parsed.options, {
          log: (line) => io.err(`${line}\n`),
        });
        const files = claimFiles(made.batch);
        io.out(`Claim certificate of batch ${made.batch}: ${made.certificateId} (ACTIVE, policy ${parsed.options.policyName})
Files in ${parsed.options.outDir}: ${files.certificate}, ${files.privateKey} (0600), ${files.ca}, ${files.provisioning}

Next: the batch's serial numbers on the allow-list, bound to this certificate:
  pnpm --filter @medusa/infra allow-list import serials.csv --batch ${made.batch} --claim-certificate-id ${made.certificateId}
`);
        return 0;
      } finally {
        iot.destroy();
      }
    },
  });

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exitCode = await main(process.argv.slice(2));
