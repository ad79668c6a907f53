import { type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { type AllowListService, SerialNumber } from "@medusa/domain";
import { Effect, Either, Schema } from "effect";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { allowListContract } from "../testing/allow-list-contract.js";
import { testTables } from "../testing/test-tables.js";
import { makeDynamoAllowList } from "./allow-list.js";
import type { TableNames } from "./tables.js";

let client: DynamoDBClient;
let tables: TableNames;
let drop: () => Promise<void>;
let store: AllowListService;
beforeAll(async () => {
  ({ client, tables, drop } = await testTables(inject("dynamoEndpoint")));
  store = makeDynamoAllowList({ client, tables });
});
afterAll(() => drop());

allowListContract("DynamoDB", () => store);

it("an item the schema refuses is the store's typed error, naming the table, never a wrong entry", async () => {
  await client.send(
    new PutItemCommand({
      TableName: tables.allowList,
      Item: { serial_number: { S: "broken01" }, added_at: { S: "yesterday" } },
    }),
  );
  const found = await Effect.runPromise(
    Effect.either(store.find(Schema.decodeSync(SerialNumber)("broken01"))),
  );
  expect(Either.isLeft(found) && found.left).toMatchObject({
    _tag: "StorageUnavailable",
    store: "allow-list table",
    reason: expect.stringContaining("unreadable item"),
  });
});
