import { type DynamoDBClient, PutItemCommand } from "@aws-sdk/client-dynamodb";
import { marshall } from "@aws-sdk/util-dynamodb";
import { deviceId, epochMillis, initialDeviceStatus } from "@medusa/domain";
import { Effect, Either } from "effect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { alertsContract, deviceStatusesContract } from "../testing/fleet-contract.js";
import { testTables } from "../testing/test-tables.js";
import { makeDynamoAlerts } from "./alerts.js";
import { makeDynamoDeviceStatuses } from "./device-statuses.js";
import type { TableNames } from "./tables.js";

let client: DynamoDBClient;
let tables: TableNames;
let drop: () => Promise<void>;

beforeAll(async () => {
  ({ client, tables, drop } = await testTables(inject("dynamoEndpoint")));
});
afterAll(() => drop());

deviceStatusesContract("DynamoDB", () => makeDynamoDeviceStatuses({ client, tables }));
alertsContract("DynamoDB", () => makeDynamoAlerts({ client, tables }));

describe("device statuses on DynamoDB: rows read again unchanged", () => {
  const run = <A, E>(e: Effect.Effect<A, E>) => Effect.runPromise(e);
  /** Writes an item as another writer (or a damaged table) could, past the store. */
  const putRaw = (item: Record<string, unknown>) =>
    client.send(new PutItemCommand({ TableName: tables.deviceStatuses, Item: marshall(item) }));

  it("a row read again unchanged is the row decoded before; a row whose text changed is decoded anew, even at the same revision", async () => {
    const store = makeDynamoDeviceStatuses({ client, tables });
    const device = deviceId(`decoded-once-${process.pid}-${Date.now().toString(36)}`);
    const status = { ...initialDeviceStatus(device), lastSampleAt: epochMillis(1_700_000_000_000) };
    await run(store.save(status, 0));
    const first = await run(store.get(device));
    const again = await run(store.get(device));
    expect(again).toEqual({ status, revision: 1 });
    expect(again).toBe(first);
    // The same revision with other text (written past the store): what is stored is what is read.
    const changed = { ...status, lastSampleAt: epochMillis(1_700_000_060_000) };
    await putRaw({ device_id: device, revision: 1, status: JSON.stringify(changed) });
    const read = await run(store.get(device));
    expect(read).toEqual({ status: changed, revision: 1 });
    expect(read).not.toBe(first);
  });

  it("an unreadable row is refused with the reason on every read, never kept", async () => {
    const store = makeDynamoDeviceStatuses({ client, tables });
    const device = deviceId(`unreadable-${process.pid}-${Date.now().toString(36)}`);
    await putRaw({ device_id: device, revision: 1, status: '{"deviceId":"x"}' });
    for (let i = 0; i < 2; i++) {
      const read = await Effect.runPromise(Effect.either(store.get(device)));
      expect(Either.isLeft(read) && read.left).toMatchObject({
        _tag: "StorageUnavailable",
        reason: expect.stringContaining("unreadable row"),
      });
    }
    // Mended, it is read.
    const status = initialDeviceStatus(device);
    await putRaw({ device_id: device, revision: 2, status: JSON.stringify(status) });
    expect(await run(store.get(device))).toEqual({ status, revision: 2 });
  });
});
