/** Where an operator command writes: its standard output and its standard error. */
export interface CommandOutput {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
}

/** The process's own standard output and error. */
export const processOutput: CommandOutput = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
};

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A command line that asked for the usage (`-h`, `--help`). */
export interface HelpAsked {
  readonly help: true;
}

/** What a command line parser gives when it is not asked for help: `runCommand`'s type argument. */
export type CommandOf<Parse extends (...args: never[]) => object> = Exclude<
  ReturnType<Parse>,
  HelpAsked
>;

const isHelp = (parsed: object): parsed is HelpAsked => "help" in parsed && parsed.help === true;

/**
 * The shell the operator commands share (register-device,
 * migrate-device-policies, claim-certificate, allow-list, activity): the
 * command line read by `parse` — a refusal prints its reason and the usage,
 * exit 2; `--help` prints the usage, exit 0 — then `run`, whose exit code is
 * the command's, or 1 with the message of what it threw (AWS or DynamoDB
 * refused or did not answer). `prefix` names the command in those messages
 * where its output does not already.
 */
export const runCommand = async <P extends object>(
  io: CommandOutput,
  command: {
    readonly usage: string;
    readonly parse: () => P | HelpAsked;
    readonly run: (parsed: P) => Promise<number>;
    readonly prefix?: string;
  },
): Promise<number> => {
  const prefix = command.prefix ?? "";
  let parsed: P | HelpAsked;
  try {
    parsed = command.parse();
  } catch (e) {
    io.err(`${prefix}${messageOf(e)}\n\n${command.usage}`);
    return 2;
  }
  if (isHelp(parsed)) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(parsed);
  } catch (e) {
    io.err(`${prefix}${messageOf(e)}\n`);
    return 1;
  }
};
