import { randomBytes } from "node:crypto";
import { DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { localCredentials, makeDynamoClient } from "../dynamodb/client.js";
import { ensureTables, type TableNames, tableNames } from "../dynamodb/tables.js";

/**
 * Fresh, uniquely prefixed tables on the DynamoDB Local of this test run
 * (started by `vitest-global-setup.ts`), so test files run in parallel.
 */
export const testTables = async (
  endpoint: string,
): Promise<{ client: DynamoDBClient; tables: TableNames; drop: () => Promise<void> }> => {
  const client = makeDynamoClient({ endpoint, region: "local", credentials: localCredentials });
  const tables = tableNames({ prefix: `t${randomBytes(4).toString("hex")}-` });
  await ensureTables(client, tables);
  return {
    client,
    tables,
    drop: async () => {
      await Promise.all(
        Object.values(tables).map((TableName) =>
          client.send(new DeleteTableCommand({ TableName })).catch(() => {}),
        ),
      );
      client.destroy();
    },
  };
};
