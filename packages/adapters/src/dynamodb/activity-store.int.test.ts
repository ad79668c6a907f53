import {
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { deviceId } from "@medusa/domain";
import { Effect, Either } from "effect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { activityStoreContract } from "../testing/activity-store-contract.js";
import { testTables } from "../testing/test-tables.js";
import { type DynamoStores, makeDynamoStores } from "./stores.js";
import { PATIENT_ACTIVITY_INDEX, type TableNames } from "./tables.js";

let client: DynamoDBClient;
let tables: TableNames;
let stores: DynamoStores;
let drop: () => Promise<void>;

beforeAll(async () => {
  ({ client, tables, drop } = await testTables(inject("dynamoEndpoint")));
  stores = makeDynamoStores({ client, tables });
});
afterAll(() => drop());

describe("activity table", () => {
  it("is keyed by device and block, indexed by patient and block", async () => {
    const table = (await client.send(new DescribeTableCommand({ TableName: tables.activity })))
      .Table;
    expect(table?.KeySchema?.map((k) => k.AttributeName)).toEqual(["device_id", "block"]);
    expect(
      table?.GlobalSecondaryIndexes?.map((i) => [
        i.IndexName,
        i.KeySchema?.map((k) => k.AttributeName),
      ]),
    ).toEqual([[PATIENT_ACTIVITY_INDEX, ["patient_id", "patient_block"]]]);
  });

  it("an item that is not a block is a typed storage error naming it, not a crash", async () => {
    const d = deviceId(`dev-bad-${process.pid}`);
    const start = Date.UTC(2030, 0, 7);
    await client.send(
      new PutItemCommand({
        TableName: tables.activity,
        Item: marshall({
          device_id: d,
          block: `${String(start).padStart(15, "0")}#P1`,
          patient_id: "P1",
          patient_block: `${String(start).padStart(15, "0")}#${d}`,
          start,
          m: new Uint8Array([9, 9, 9]),
          ttl: 2_000_000_000,
        }),
      }),
    );
    const r = await Effect.runPromise(
      Effect.either(stores.activity.deviceBlocks(d, { start, end: start + 1 })),
    );
    expect(Either.isLeft(r) && r.left._tag).toBe("StorageUnavailable");
    expect(Either.isLeft(r) && r.left.reason).toContain("unknown block format 9");
  });
});

activityStoreContract("DynamoDB", () => stores, { numRuns: 4 });
