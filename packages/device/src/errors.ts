import { Data } from "effect";

/** A state-changing command that arrives once `stop()` began; answered as `command_failed`. */
export class AgentStopping extends Data.TaggedError("AgentStopping") {
  override get message(): string {
    return "the agent is stopping";
  }
}

/** An error as a log line or a command response shows it: its message. */
export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Runs work nobody waits for (a timer's tick, an incoming message) so that its
 * failure is logged, never an unhandled rejection that ends the process.
 */
export const detached = (
  what: string,
  work: () => Promise<unknown>,
  log: (line: string) => void,
) => {
  try {
    work().catch((e: unknown) => log(`${what} failed: ${errorText(e)}`));
  } catch (e) {
    log(`${what} failed: ${errorText(e)}`);
  }
};
