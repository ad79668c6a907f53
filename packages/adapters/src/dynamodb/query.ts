import {
  type AttributeValue,
  type DynamoDBClient,
  QueryCommand,
  type QueryCommandInput,
} from "@aws-sdk/client-dynamodb";
import { Effect, Either } from "effect";

/**
 * Every item a Query finds, page after page (or the first page only, with
 * `firstPageOnly`; or until a page finds any, with `untilFound`), each decoded with the table's item schema. A request
 * that fails, or an item that does not decode, is the store's typed error
 * (`fail`), never an exception.
 */
export const queryAll = <A, E>(
  client: DynamoDBClient,
  input: QueryCommandInput,
  decode: (item: Record<string, AttributeValue>) => Either.Either<A, string>,
  fail: (reason: unknown) => E,
  options: { readonly firstPageOnly?: boolean; readonly untilFound?: boolean } = {},
): Effect.Effect<Array<A>, E> =>
  Effect.gen(function* () {
    const out: Array<A> = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = yield* Effect.tryPromise({
        try: () =>
          client.send(
            new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }),
          ),
        catch: fail,
      });
      for (const item of page.Items ?? []) {
        const decoded = decode(item);
        if (Either.isLeft(decoded))
          return yield* Effect.fail(fail(`unreadable item: ${decoded.left}`));
        out.push(decoded.right);
      }
      start =
        options.firstPageOnly || (options.untilFound && out.length > 0)
          ? undefined
          : page.LastEvaluatedKey;
    } while (start);
    return out;
  });

/** An error's text for an operator: its name and message. */
export const reasonOf = (e: unknown): string =>
  e instanceof Error ? `${e.name}: ${e.message}` : String(e);
