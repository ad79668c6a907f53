import { decodeCommitItem, dynamoStoresLayer } from "@medusa/adapters";
import { Effect, Either } from "effect";
import { configFromEnv, storesFromEnv } from "../config.js";
import { IntervalCache } from "../ingest/interval-cache.js";
import { reattributeAndSettle } from "../reattribution/reattribute.js";

const config = configFromEnv(process.env);
const layer = dynamoStoresLayer(storesFromEnv(process.env));
const cache = new IntervalCache(0);

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
 * Its function timeout must exceed the settle time.
 */
export const handler = async (event: StreamEvent) => {
  const commits = [];
  for (const record of event.Records) {
    if (record.eventName !== "INSERT" || !record.dynamodb?.NewImage) continue;
    const commit = decodeCommitItem(record.dynamodb.NewImage, "dynamodb-json");
    // An unreadable commit cannot be re-attributed; retrying will not help. Say so and go on.
    if (Either.isLeft(commit))
      console.error(
        JSON.stringify({ level: "error", msg: "unreadable commit in stream", reason: commit.left }),
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
