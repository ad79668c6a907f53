import { decodeCommitItem, dynamoLayer } from "@medusa/adapters";
import {
  type Commit,
  type ReattributionReport,
  reattributeAndSettle,
  recordAssignmentCommit,
} from "@medusa/domain";
import { Effect, Either, type Layer, ManagedRuntime } from "effect";
import { type LambdaConfig, settingsFromEnv } from "../config.js";
import { runOrReject, type Services, servicesLayer } from "../services.js";

type Env = Readonly<Record<string, string | undefined>>;

/** The part of a DynamoDB stream event this handler reads. */
export interface StreamEvent {
  readonly Records: ReadonlyArray<{
    readonly eventName?: string;
    readonly dynamodb?: { readonly NewImage?: Parameters<typeof decodeCommitItem>[0] };
  }>;
}

/** The commits a stream event inserts; one that cannot be read is logged and skipped (retrying will not help). */
const commitsOf = (event: StreamEvent): ReadonlyArray<Commit> =>
  event.Records.flatMap((record) => {
    if (record.eventName !== "INSERT" || !record.dynamodb?.NewImage) return [];
    const commit = decodeCommitItem(record.dynamodb.NewImage);
    if (Either.isRight(commit)) return [commit.right];
    console.error(
      JSON.stringify({ level: "error", msg: "unreadable commit in stream", reason: commit.left }),
    );
    return [];
  });

/**
 * Triggered by the events table's stream: every new commit re-attributes the
 * samples stored from its effective time on, twice (at once, and after the
 * settle time, for ingests that used intervals cached before the commit).
 * The function's timeout must exceed the settle time. First, each commit's
 * assignment goes into the device's status row (who wears it: what the gap
 * detector watches and the fleet view shows); redelivered and overtaken
 * commits change nothing there.
 */
export const reattributeHandler = (config: LambdaConfig, layer: Layer.Layer<Services>) => {
  const runtime = ManagedRuntime.make(layer);
  const options = { retentionMs: config.retentionMs, settleMs: config.settleMs };
  return (event: StreamEvent): Promise<{ reattributed: ReadonlyArray<ReattributionReport> }> =>
    runOrReject(
      runtime,
      Effect.forEach(
        commitsOf(event),
        (commit) =>
          Effect.zipRight(recordAssignmentCommit(commit), reattributeAndSettle(commit, options)),
        { concurrency: 10 },
      ).pipe(Effect.map((reports) => ({ reattributed: reports.flat() }))),
    );
};

/** The re-attribution handler on DynamoDB as the environment says (`settingsFromEnv`). */
export const makeReattributeHandler = (env: Env) => {
  const { config, dynamo } = settingsFromEnv(env);
  return reattributeHandler(
    config,
    servicesLayer(dynamoLayer(dynamo), { cacheTtlMs: config.cacheTtlMs }),
  );
};

let wired: ReturnType<typeof makeReattributeHandler> | undefined;
export const handler = (event: StreamEvent) => {
  wired ??= makeReattributeHandler(process.env);
  return wired(event);
};
