import {
  type CommandResponse,
  DeviceCommand,
  type EpochMillis,
  parseDeviceCommand,
} from "@medusa/domain";
import { Either } from "effect";
import { errorText } from "./errors.js";

/** What remote commands may change or ask of the running agent. */
export interface CommandTarget {
  readonly setSampleRate: (hz: number) => Promise<void>;
  readonly setPublishInterval: (ms: number) => void;
  readonly identify: (durationS: number) => void;
  readonly ping: () => Record<string, unknown>;
}

/**
 * Handles one command message and returns the response to publish. Never
 * throws: a malformed or unknown command gets an error response (with the
 * request id when one could be read), and a failing action reports its error.
 */
export const handleCommand = async (
  raw: Uint8Array | string,
  target: CommandTarget,
  now: () => number,
): Promise<CommandResponse> => {
  const timestamp = now() as EpochMillis;
  const parsed = parseDeviceCommand(raw);
  if (Either.isLeft(parsed)) {
    return {
      request_id: requestIdOf(raw),
      ok: false,
      timestamp,
      error: {
        code: isUnknownCommand(raw) ? "unknown_command" : "invalid_command",
        message: parsed.left.message,
      },
    };
  }
  const command: DeviceCommand = parsed.right;
  try {
    const result = await run(command, target);
    return {
      request_id: command.request_id,
      ok: true,
      command: command.command,
      timestamp,
      ...(result ? { result } : {}),
    };
  } catch (e) {
    return {
      request_id: command.request_id,
      ok: false,
      timestamp,
      error: { code: "command_failed", message: errorText(e) },
    };
  }
};

const run = async (
  command: DeviceCommand,
  target: CommandTarget,
): Promise<Record<string, unknown> | undefined> => {
  switch (command.command) {
    case "ping":
      return target.ping();
    case "set_sample_rate":
      await target.setSampleRate(command.sample_rate_hz);
      return { sample_rate_hz: command.sample_rate_hz };
    case "set_publish_interval":
      target.setPublishInterval(command.publish_interval_ms);
      return { publish_interval_ms: command.publish_interval_ms };
    case "identify": {
      const duration = command.duration_s ?? 10;
      target.identify(duration);
      return { duration_s: duration };
    }
    default: {
      const unhandled: never = command;
      return unhandled;
    }
  }
};

/** The commands the agent knows, as the schema names them. */
const COMMAND_NAMES: ReadonlySet<unknown> = new Set(
  DeviceCommand.members.flatMap((member) => member.fields.command.literals),
);

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A message the schema refused that is a JSON object (read as the schema
 * reads it) but names no command the agent knows, or none at all: the
 * sender asked for something else, rather than sent a malformed command.
 */
const isUnknownCommand = (raw: Uint8Array | string): boolean => {
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === "string" ? raw : utf8.decode(raw));
  } catch {
    return false;
  }
  return (
    typeof json === "object" &&
    json !== null &&
    !COMMAND_NAMES.has((json as { command?: unknown }).command)
  );
};

/** The request id of a message the schema refused, if it has a usable one. */
const requestIdOf = (raw: Uint8Array | string): string | null => {
  try {
    const json: unknown = JSON.parse(
      typeof raw === "string" ? raw : Buffer.from(raw).toString("utf8"),
    );
    const id =
      json && typeof json === "object" ? (json as { request_id?: unknown }).request_id : undefined;
    return typeof id === "string" && id.length > 0 && id.length <= 128 ? id : null;
  } catch {
    return null;
  }
};
