import { spawn } from "node:child_process";

/**
 * A Node command run the way an operator runs it (a bin, a CLI), its stdout
 * and stderr collected together, for tests of start-up, output and exit codes.
 */
export const runCommand = (
  args: ReadonlyArray<string>,
  options: { readonly cwd?: string; readonly env?: NodeJS.ProcessEnv } = {},
) => {
  const child = spawn(process.execPath, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const collect = (d: Buffer) => {
    output += String(d);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  /** Resolves once the output holds `text`; fails, showing the output, if the command exits first or `timeoutMs` passes. */
  const waitFor = async (text: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!output.includes(text)) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`no "${text}" from ${args.join(" ")}:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { child, exited, output: () => output, waitFor };
};
