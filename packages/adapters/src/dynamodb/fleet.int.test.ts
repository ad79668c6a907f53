import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, inject } from "vitest";
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
