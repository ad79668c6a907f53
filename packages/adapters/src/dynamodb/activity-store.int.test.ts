import {
  DescribeTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  QueryCommand,
} from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import {
  type ActivityBlock,
  BLOCK_MS,
  columnsOf,
  deviceId,
  metricsOf,
  patientId,
} from "@medusa/domain";
import { record, walking } from "@medusa/domain/testing";
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
  it("is keyed by device and hour, indexed by patient and hour", async () => {
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

  it("holds an hour of one patient in one item; a refresh of one quarter keeps the others; an item left empty is deleted", async () => {
    const d = deviceId(`dev-hour-${process.pid}`);
    const p = patientId(`P-hour-${process.pid}`);
    const start = Date.UTC(2030, 0, 7);
    const blocks = metricsOf(
      columnsOf(
        record(
          { start: start + 5 * 60_000, durationMs: 100 * 60_000 },
          walking({ cadence: 100, amplitude: 0.4, seed: 3 }).motion,
        ),
      ),
      60_000,
    ).map((b) => ({
      ...b,
      deviceId: d,
      patientId: p,
      ttl: Math.ceil((b.start + BLOCK_MS + 30 * 86_400_000) / 1000),
    }));
    expect(blocks).toHaveLength(7);
    await Effect.runPromise(stores.activity.apply(d, blocks, []));
    const items = async () =>
      (
        await client.send(
          new QueryCommand({
            TableName: tables.activity,
            KeyConditionExpression: "device_id = :d",
            ExpressionAttributeValues: marshall({ ":d": d }),
          }),
        )
      ).Items ?? [];
    expect(
      (await items()).map((i) =>
        Object.keys(i)
          .filter((k) => /^q\d$/.test(k))
          .sort(),
      ),
    ).toEqual([
      ["q0", "q1", "q2", "q3"],
      ["q0", "q1", "q2"],
    ]);
    const range = { start, end: start + 8 * BLOCK_MS };
    const [first, , third] = blocks as [ActivityBlock, ActivityBlock, ActivityBlock];
    const changed = { ...third, epochs: third.epochs.slice(1) };
    await Effect.runPromise(stores.activity.apply(d, [changed], [first]));
    expect(await Effect.runPromise(stores.activity.deviceBlocks(d, range))).toStrictEqual([
      blocks[1],
      changed,
      ...blocks.slice(3),
    ]);
    await Effect.runPromise(stores.activity.apply(d, [], blocks.slice(4)));
    expect(await items()).toHaveLength(1);
    // Removing what is not there makes nothing.
    await Effect.runPromise(
      stores.activity.apply(d, [], [{ patientId: p, start: start + 10 * BLOCK_MS }]),
    );
    expect(await items()).toHaveLength(1);
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
          q1: new Uint8Array([9, 9, 9]),
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

describe("the client's SDK log entry", () => {
  it("says how many items a Query returned, never the items (the SDK no longer copies them to redact them)", async () => {
    const seen: Array<{ output?: unknown }> = [];
    const previous = client.config.logger;
    client.config.logger = {
      debug: () => {},
      info: (entry: { output?: unknown }) => seen.push(entry),
      warn: () => {},
      error: () => {},
    };
    try {
      const device = deviceId("log-shape-1");
      const patient = patientId("P-log-shape");
      const start = 1_700_006_400_000;
      const samples = record({ start, durationMs: 2 * BLOCK_MS, oversample: 1 }, () => [0, 0, 1]);
      // Two blocks of one hour: one item.
      const blocks: Array<ActivityBlock> = metricsOf(columnsOf(samples), 60_000).map((b) => ({
        ...b,
        deviceId: device,
        patientId: patient,
        ttl: 2_000_000_000,
      }));
      await Effect.runPromise(stores.activity.apply(device, blocks, []));
      const read = await Effect.runPromise(
        stores.activity.patientBlocks(patient, { start, end: start + 2 * BLOCK_MS }),
      );
      expect(read.length).toBe(blocks.length);
      expect(seen.at(-1)?.output).toEqual({ items: 1 });
    } finally {
      client.config.logger = previous;
    }
  });
});
