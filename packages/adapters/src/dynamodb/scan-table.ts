import { type AttributeValue, type DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { StorageUnavailable } from "@medusa/domain";
import { Effect } from "effect";

/**
 * Every item of a table as plain values (`unmarshall`), page after page,
 * strongly consistent: how `medusa import` reads the older system's tables,
 * whose items are whatever hands and scripts left there (decoding them is
 * the importer's job, so nothing is refused here). `onPage` hears the count
 * read so far.
 */
export const scanTable = (
  client: DynamoDBClient,
  table: string,
  options: { readonly onPage?: (itemsSoFar: number) => void; readonly pageSize?: number } = {},
): Effect.Effect<Array<Record<string, unknown>>, StorageUnavailable> =>
  Effect.gen(function* () {
    const out: Array<Record<string, unknown>> = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = yield* Effect.tryPromise({
        try: () =>
          client.send(
            new ScanCommand({
              TableName: table,
              ConsistentRead: true,
              ...(options.pageSize !== undefined ? { Limit: options.pageSize } : {}),
              ...(start ? { ExclusiveStartKey: start } : {}),
            }),
          ),
        catch: (e) =>
          new StorageUnavailable({
            store: table,
            operation: "scan",
            reason: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
          }),
      });
      for (const item of page.Items ?? [])
        out.push(unmarshall(item, { wrapNumbers: false }) as Record<string, unknown>);
      options.onPage?.(out.length);
      start = page.LastEvaluatedKey;
    } while (start);
    return out;
  });
