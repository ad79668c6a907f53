import { Data } from "effect";

/** A state-changing command that arrives once `stop()` began; answered as `command_failed`. */
export class AgentStopping extends Data.TaggedError("AgentStopping") {
  override get message(): string {
    return "the agent is stopping";
  }
}

/** An error as a log line or a command response shows it: its message. */
export const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));
