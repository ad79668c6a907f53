import type { AttributeValue } from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import { AssignmentEvent, Commit } from "@medusa/domain";
import { Either, ParseResult, Schema } from "effect";

/**
 * A commit as the events table holds it: key `(device_id, version)`, the
 * command's id and time, and its events as the domain encodes them.
 */
export const CommitItem = Schema.transform(
  Schema.Struct({
    device_id: Schema.String,
    version: Schema.Number,
    command_id: Schema.String,
    committed_at: Schema.Number,
    events: Schema.NonEmptyArray(Schema.encodedSchema(AssignmentEvent)),
  }),
  Commit,
  {
    strict: true,
    decode: (i) => ({
      deviceId: i.device_id,
      version: i.version,
      commandId: i.command_id,
      committedAt: i.committed_at,
      events: i.events,
    }),
    encode: (c) => ({
      device_id: c.deviceId,
      version: c.version,
      command_id: c.commandId,
      committed_at: c.committedAt,
      events: c.events,
    }),
  },
);

const encode = Schema.encodeSync(CommitItem);
const decode = Schema.decodeUnknownEither(CommitItem);

/** A commit as the item DynamoDB stores. */
export const commitItem = (commit: Commit): Record<string, AttributeValue> =>
  marshall(encode(commit), { removeUndefinedValues: true });

/** A stored commit (attribute values, or a DynamoDB stream's `NewImage`) back to a `Commit`. */
export const decodeCommitItem = (
  item: Record<string, AttributeValue>,
): Either.Either<Commit, string> =>
  decode(unmarshall(item)).pipe(
    Either.mapLeft((e) => ParseResult.TreeFormatter.formatErrorSync(e)),
  );
