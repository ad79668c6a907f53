import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { App, type Environment } from "aws-cdk-lib";
import { bundleHandlers, type HandlerBundles } from "./bundles.js";
import { settingsFromContext, stackName } from "./settings.js";
import { MedusaStack } from "./stack.js";

export const DEFAULT_OUTDIR = fileURLToPath(new URL("../cdk.out", import.meta.url));
/** The console's production build (`pnpm -r build`), served from S3 with `userPool=true`. */
export const CONSOLE_DIR = fileURLToPath(new URL("../../console/dist", import.meta.url));

/** `-c key=value` / `--context key=value` pairs, as the CDK CLI takes them. */
export const contextFromArgv = (argv: ReadonlyArray<string>): Record<string, string> => {
  const context: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const inline = /^(?:-c|--context)=(.*)$/.exec(arg)?.[1];
    const pair = inline ?? (arg === "-c" || arg === "--context" ? argv[++i] : undefined);
    if (pair === undefined) continue;
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new Error(`context ${pair}: expected key=value`);
    context[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return context;
};

/**
 * The CDK app: one stack, for the stage the context names. Account and region
 * come from the CLI's environment when it has credentials; without them the
 * stack is environment-agnostic, so synthesis needs no AWS account.
 */
export const buildApp = (options: {
  readonly bundles: HandlerBundles;
  readonly context?: Record<string, unknown>;
  readonly outdir?: string;
  readonly env?: Environment;
  /** The console's build; `CONSOLE_DIR` when it has been built. */
  readonly consoleDir?: string;
}) => {
  const app = new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    ...(options.context ? { context: options.context } : {}),
  });
  const settings = settingsFromContext((key) => app.node.tryGetContext(key));
  const stack = new MedusaStack(app, stackName(settings.stage), {
    settings,
    bundles: options.bundles,
    ...(options.consoleDir ? { consoleDir: options.consoleDir } : {}),
    ...(options.env ? { env: options.env } : {}),
    description: `MeDUSA Link (${settings.stage}): tables, IoT policy and rule, Lambda functions, HTTP API`,
  });
  return { app, stack, settings };
};

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { CDK_DEFAULT_ACCOUNT: account, CDK_DEFAULT_REGION: region } = process.env;
  const { app, stack } = buildApp({
    bundles: await bundleHandlers(),
    context: contextFromArgv(process.argv.slice(2)),
    ...(existsSync(join(CONSOLE_DIR, "index.html")) ? { consoleDir: CONSOLE_DIR } : {}),
    // The CLI names where it wants the cloud assembly; run directly, it goes to cdk.out.
    outdir: process.env.CDK_OUTDIR ?? DEFAULT_OUTDIR,
    ...(account || region
      ? { env: { ...(account ? { account } : {}), ...(region ? { region } : {}) } }
      : {}),
  });
  const assembly = app.synth();
  if (!process.env.CDK_OUTDIR)
    console.log(`synthesized ${stack.stackName} into ${assembly.directory}`);
}
