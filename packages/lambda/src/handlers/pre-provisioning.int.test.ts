import { makeDynamoAllowList, type TableNames } from "@medusa/adapters";
import { testTables } from "@medusa/adapters/testing";
import { epochMillis, SerialNumber } from "@medusa/domain";
import { Effect, Schema } from "effect";
import { afterAll, beforeAll, expect, inject, it, vi } from "vitest";
import { makePreProvisioningHandler } from "./pre-provisioning.js";

let endpoint: string;
let tables: TableNames;
let drop: () => Promise<void>;
beforeAll(async () => {
  // The SDK reads credentials from the process's environment, as in Lambda.
  vi.stubEnv("AWS_ACCESS_KEY_ID", "local");
  vi.stubEnv("AWS_SECRET_ACCESS_KEY", "local");
  endpoint = inject("dynamoEndpoint");
  let testClient: Awaited<ReturnType<typeof testTables>>["client"];
  ({ client: testClient, tables, drop } = await testTables(endpoint));
  const client = testClient;
  await Effect.runPromise(
    makeDynamoAllowList({ client, tables }).add([
      {
        serialNumber: Schema.decodeSync(SerialNumber)("10000000beef0001"),
        addedAt: epochMillis(1_764_000_000_000),
      },
    ]),
  );
}, 60_000);
afterAll(async () => {
  vi.unstubAllEnvs();
  await drop?.();
});

/** What AWS IoT sends the hook (pre-provisioning-hook.html, payload version 2020-04-01). */
const event = (parameters: Record<string, string>) => ({
  claimCertificateId: "a".repeat(64),
  certificateId: "b".repeat(64),
  certificatePem: "-----BEGIN CERTIFICATE-----\n…",
  templateArn: "arn:aws:iot:eu-central-1:123456789012:provisioningtemplate/medusa-dev-fleet",
  clientId: "provision-10000000beef0001",
  parameters,
});

it("on the allow-list table: allows a listed serial, refuses another and a malformed request", async () => {
  const handler = makePreProvisioningHandler({
    AWS_REGION: "local",
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    MEDUSA_ALLOW_LIST_TABLE: tables.allowList,
  });
  expect(await handler(event({ SerialNumber: "10000000beef0001" }))).toEqual({
    allowProvisioning: true,
  });
  expect(await handler(event({ SerialNumber: "10000000beef0002" }))).toEqual({
    allowProvisioning: false,
  });
  expect(await handler({ parameters: {} })).toEqual({ allowProvisioning: false });
});

it("a table that cannot be read fails the invocation (AWS IoT then denies)", async () => {
  const handler = makePreProvisioningHandler({
    AWS_REGION: "local",
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    MEDUSA_ALLOW_LIST_TABLE: "no-such-table",
  });
  await expect(handler(event({ SerialNumber: "10000000beef0001" }))).rejects.toMatchObject({
    _tag: "StorageUnavailable",
  });
});
