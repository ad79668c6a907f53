import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  AllowList,
  AllowListEntry,
  type AllowListService,
  BatchName,
  CertificateId,
  EpochMillis,
  SerialNumber,
  StorageUnavailable,
} from "@medusa/domain";
import { Effect, Either, Layer, Option, ParseResult, Schema } from "effect";
import { reasonOf } from "./query.js";
import type { TableNames } from "./tables.js";

/** An allow-list entry as its table holds it: snake_case, the serial number the key. */
export const AllowListItem = Schema.Struct({
  serial_number: SerialNumber,
  batch: Schema.optionalWith(BatchName, { exact: true }),
  claim_certificate_id: Schema.optionalWith(CertificateId, { exact: true }),
  added_at: EpochMillis,
});

/** The one transform between the entry and its item. */
const EntryFromItem = Schema.transform(AllowListItem, Schema.typeSchema(AllowListEntry), {
  strict: true,
  decode: (item) => ({
    serialNumber: item.serial_number,
    ...(item.batch !== undefined ? { batch: item.batch } : {}),
    ...(item.claim_certificate_id !== undefined
      ? { claimCertificateId: item.claim_certificate_id }
      : {}),
    addedAt: item.added_at,
  }),
  encode: (entry) => ({
    serial_number: entry.serialNumber,
    ...(entry.batch !== undefined ? { batch: entry.batch } : {}),
    ...(entry.claimCertificateId !== undefined
      ? { claim_certificate_id: entry.claimCertificateId }
      : {}),
    added_at: entry.addedAt,
  }),
});

export const allowListItem = (entry: AllowListEntry): Record<string, AttributeValue> =>
  marshall(Schema.encodeSync(EntryFromItem)(entry));

export const entryFromItem = (
  item: Record<string, AttributeValue>,
): Either.Either<AllowListEntry, string> =>
  Either.mapLeft(Schema.decodeUnknownEither(EntryFromItem)(unmarshall(item)), (e) =>
    ParseResult.TreeFormatter.formatErrorSync(e),
  );

/** Puts at a time while importing: DynamoDB takes far more; this keeps a big list polite. */
const IMPORT_CONCURRENCY = 16;

/**
 * The allow-list on DynamoDB: one item per serial number. `find` is one
 * strongly consistent GetItem (a serial imported a moment ago is found);
 * `add` one conditional PutItem per entry (only where the serial is new), so
 * importing a list again changes nothing and says which were there.
 */
export const makeDynamoAllowList = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
}): AllowListService => {
  const { client } = options;
  const TableName = options.tables.allowList;
  const fail = (operation: string) => (e: unknown) =>
    new StorageUnavailable({ store: "allow-list table", operation, reason: reasonOf(e) });
  const decoded = (operation: string, item: Record<string, AttributeValue>) => {
    const entry = entryFromItem(item);
    return Either.isLeft(entry)
      ? Effect.fail(fail(operation)(`unreadable item: ${entry.left}`))
      : Effect.succeed(entry.right);
  };
  return {
    find: (serialNumber) =>
      Effect.tryPromise({
        try: () =>
          client.send(
            new GetItemCommand({
              TableName,
              Key: marshall({ serial_number: serialNumber }),
              ConsistentRead: true,
            }),
          ),
        catch: fail("find"),
      }).pipe(
        Effect.flatMap((out) =>
          out.Item
            ? Effect.map(decoded("find", out.Item), Option.some)
            : Effect.succeed(Option.none()),
        ),
      ),
    add: (entries) =>
      Effect.forEach(
        entries,
        (entry) =>
          Effect.tryPromise({
            try: () =>
              client
                .send(
                  new PutItemCommand({
                    TableName,
                    Item: allowListItem(entry),
                    ConditionExpression: "attribute_not_exists(serial_number)",
                  }),
                )
                .then(
                  () => "added" as const,
                  (e: unknown) => {
                    if (e instanceof ConditionalCheckFailedException) return "existing" as const;
                    throw e;
                  },
                ),
            catch: fail("add"),
          }).pipe(Effect.map((outcome) => [entry.serialNumber, outcome] as const)),
        { concurrency: IMPORT_CONCURRENCY },
      ).pipe(
        Effect.map((outcomes) => ({
          added: outcomes.filter(([, o]) => o === "added").map(([s]) => s),
          existing: outcomes.filter(([, o]) => o === "existing").map(([s]) => s),
        })),
      ),
    remove: (serialNumber) =>
      Effect.tryPromise({
        try: () =>
          client.send(
            new DeleteItemCommand({ TableName, Key: marshall({ serial_number: serialNumber }) }),
          ),
        catch: fail("remove"),
      }).pipe(Effect.asVoid),
    list: () =>
      Effect.gen(function* () {
        const out: Array<AllowListEntry> = [];
        let start: Record<string, AttributeValue> | undefined;
        do {
          const page = yield* Effect.tryPromise({
            try: () =>
              client.send(
                new ScanCommand({
                  TableName,
                  ConsistentRead: true,
                  ...(start ? { ExclusiveStartKey: start } : {}),
                }),
              ),
            catch: fail("list"),
          });
          for (const item of page.Items ?? []) out.push(yield* decoded("list", item));
          start = page.LastEvaluatedKey;
        } while (start);
        return out.sort((a, b) =>
          a.serialNumber < b.serialNumber ? -1 : a.serialNumber > b.serialNumber ? 1 : 0,
        );
      }),
  };
};

/** The allow-list on DynamoDB as a layer. */
export const dynamoAllowListLayer = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
}): Layer.Layer<AllowList> => Layer.succeed(AllowList, makeDynamoAllowList(options));
