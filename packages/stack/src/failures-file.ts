import { appendFileSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { type InboundMessage, rawPayload } from "@medusa/domain";
import { Either, Schema } from "effect";

/** A sensor-data message as the local broker delivered it. */
export interface BrokerMessage extends InboundMessage {
  readonly topic: string;
  readonly clientId: string;
  readonly receivedAt: number;
  readonly payload: Uint8Array | string;
}

/**
 * A line of the failures file: a message as the broker delivered it, and why
 * it was not stored. Enough to ingest it again with the same keys.
 */
const FailedMessage = Schema.Struct({
  failed_at: Schema.Number,
  error: Schema.String,
  topic: Schema.String,
  client_id: Schema.String,
  // A single reading's sample time is its receive time. Lines written before this
  // field existed have none; the failure time is the nearest one they hold.
  received_at: Schema.optional(Schema.Number),
  payload: Schema.String,
  /** Set when the payload is not UTF-8 text; `payload` is then base64. */
  encoding: Schema.optional(Schema.Literal("base64")),
});
const decodeFailed = Schema.decodeUnknownEither(Schema.parseJson(FailedMessage));

const failureLine = (m: BrokerMessage, error: unknown): string => {
  const raw = rawPayload(m.payload);
  const line: typeof FailedMessage.Type = {
    failed_at: Date.now(),
    error: String(error),
    topic: m.topic,
    client_id: m.clientId,
    received_at: m.receivedAt,
    payload: raw.payload,
    ...(raw.payloadEncoding === "base64" ? { encoding: "base64" as const } : {}),
  };
  return `${JSON.stringify(line)}\n`;
};

const messageOf = (line: typeof FailedMessage.Type): BrokerMessage => ({
  topic: line.topic,
  clientId: line.client_id,
  receivedAt: line.received_at ?? line.failed_at,
  payload: line.encoding === "base64" ? Buffer.from(line.payload, "base64") : line.payload,
});

/** The file as found: its bytes, the messages in it, and lines that are none. */
const read = (file: string) => {
  let original: Buffer;
  try {
    original = readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  if (original.length > 0 && original.at(-1) !== 0x0a) {
    // A line cut short by a crash: the next line appended must not run on from it.
    appendFileSync(file, "\n");
    original = readFileSync(file);
  }
  const messages: Array<BrokerMessage> = [];
  const unreadable: Array<string> = [];
  for (const line of original.toString("utf8").split("\n")) {
    if (line.trim() === "") continue;
    const decoded = decodeFailed(line);
    if (Either.isRight(decoded)) messages.push(messageOf(decoded.right));
    else unreadable.push(line);
  }
  return { original, messages, unreadable };
};

/** What the failures file held when read: the messages to ingest again. */
export interface FailuresSnapshot {
  readonly messages: ReadonlyArray<BrokerMessage>;
  /** Lines it held that are no message; they stay in it. */
  readonly unreadable: number;
  /**
   * Drops the lines the file held when read, except the unreadable ones:
   * for when each of its messages is stored, dead-lettered or appended
   * again. Written to a temporary file and renamed, so a crash leaves the old
   * file or the new; removed when nothing is left. False when the file was
   * changed by someone else (it then stays as it is).
   */
  readonly compact: () => boolean;
}

/**
 * The ingest's failures file (the local stand-in for the function's SQS
 * failure queue): one JSON line per message that could not be stored. Only
 * the ingest writes it, by appending; owner-only (0600), as it holds
 * patients' samples.
 */
export interface FailuresFile {
  readonly path: string;
  /** Keeps messages with why they were not stored. */
  readonly append: (failures: ReadonlyArray<readonly [BrokerMessage, unknown]>) => void;
  /** What the file holds now; undefined when there is no file. */
  readonly read: () => FailuresSnapshot | undefined;
}

export const failuresFile = (file: string): FailuresFile => ({
  path: file,
  append: (failures) => {
    for (const [m, error] of failures) appendFileSync(file, failureLine(m, error), { mode: 0o600 });
  },
  read: () => {
    const found = read(file);
    if (!found) return undefined;
    return {
      messages: found.messages,
      unreadable: found.unreadable.length,
      compact: () => {
        let current: Buffer;
        try {
          current = readFileSync(file);
        } catch {
          return false;
        }
        // Only this process writes the file, by appending: a changed start means someone
        // edited it, and it stays as it is (replaying a line twice is harmless).
        if (!current.subarray(0, found.original.length).equals(found.original)) return false;
        const kept = Buffer.concat([
          Buffer.from(found.unreadable.map((line) => `${line}\n`).join("")),
          current.subarray(found.original.length),
        ]);
        if (kept.length === 0) rmSync(file, { force: true });
        else {
          const temp = `${file}.${process.pid}.tmp`;
          writeFileSync(temp, kept, { mode: 0o600 });
          renameSync(temp, file);
        }
        return true;
      },
    };
  },
});
