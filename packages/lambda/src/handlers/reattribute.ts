import { decodeCommitItem, dynamoStoresLayer } from "@medusa/adapters";
import type { Commit } from "@medusa/domain";
import { Effect, Either } from "effect";
import { configFromEnv, storesFromEnv } from "../config.js";
import { IntervalCache } from "../ingest/interval-cache.js";
import { reattributeAndSettle } from "../reattribution/reattribute.js";

type Env = Readonly<Record<string, string | undefined>>;

/** The part of a DynamoDB stream event this handler reads. */
export interface StreamEvent {
  readonly Records: ReadonlyArray<{
    readonly eventName?: string;
    readonly dynamodb?: { readonly NewImage?: Record<string, unknown> };
  }>;
}

/**
 * Triggered by the events table's stream: every new commit re-attributes the
 * samples stored from its effective time on, twice (at once, and after the
 * settle time, for ingests that used intervals cached before the commit).
 * The function's timeout must exceed the settle time.
 */
export const makeReattributeHandler = (env: Env) => {
  const config = configFromEnv(env);
  const layer = dynamoStoresLayer(storesFromEnv(env));
  const cache = new IntervalCache(0);
  return async (event: StreamEvent) => {
    const commits: Array<Commit> = [];
    for (const record of event.Records) {
      if (record.eventName !== "INSERT" || !record.dynamodb?.NewImage) continue;
      const commit = decodeCommitItem(record.dynamodb.NewImage, "dynamodb-json");
      // An unreadable commit cannot be re-attributed and retrying will not help: say so, go on.
      if (Either.isLeft(commit))
        console.error(
          JSON.stringify({
            level: "error",
            msg: "unreadable commit in stream",
            reason: commit.left,
          }),
        );
      else commits.push(commit.right);
    }
    const reports = await Effect.runPromise(
      Effect.provide(
        Effect.forEach(commits, (c) => reattributeAndSettle(c, cache, config), { concurrency: 10 }),
        layer,
      ),
    );
    return { reattributed: reports.flat() };
  };
};

let wired: ReturnType<typeof makeReattributeHandler> | undefined;
export const handler = (event: StreamEvent) => {
  wired ??= makeReattributeHandler(process.env);
  return wired(event);
};
