import { randomBytes } from "node:crypto";
import { DeleteTableCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { localCredentials, makeDynamoClient } from "../dynamodb/client.js";
import { type DynamoStores, makeDynamoStores } from "../dynamodb/stores.js";
import { ensureTables, type TableNames, tableNames } from "../dynamodb/tables.js";
import { type DynamoLocal, type DynamoLocalOptions, startDynamoLocal } from "./dynamo-local.js";

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

/** DynamoDB Local, its tables in place, and the stores on them. */
export interface LocalStores {
  readonly local: DynamoLocal;
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  readonly stores: DynamoStores;
  /** Closes the client and stops DynamoDB Local. */
  readonly stop: () => Promise<void>;
}

/**
 * Starts DynamoDB Local (`dynamo`: its port and data folder), creates the
 * tables (`prefix` before their names) and the stores on them: what the local
 * stack and the benchmarks run on.
 */
export const startLocalStores = async (
  options: { readonly prefix?: string; readonly dynamo?: DynamoLocalOptions } = {},
): Promise<LocalStores> => {
  const local = await startDynamoLocal(options.dynamo);
  try {
    const client = makeDynamoClient({
      endpoint: local.endpoint,
      region: "local",
      credentials: localCredentials,
    });
    const tables = tableNames(options.prefix !== undefined ? { prefix: options.prefix } : {});
    await ensureTables(client, tables);
    return {
      local,
      client,
      tables,
      stores: makeDynamoStores({ client, tables }),
      stop: async () => {
        client.destroy();
        await local.stop();
      },
    };
  } catch (e) {
    await local.stop();
    throw e;
  }
};
