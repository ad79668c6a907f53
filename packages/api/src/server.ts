import { serve } from "@hono/node-server";
import { makeDynamoClient, makeDynamoStores } from "@medusa/adapters";
import { createApp } from "./app.js";
import { jwtAuth } from "./auth.js";
import { apiConfigFromEnv } from "./config.js";

/** The API on Node, configured from the environment (see the README). */
export const startServer = (env: Readonly<Record<string, string | undefined>> = process.env) => {
  const config = apiConfigFromEnv(env);
  // Region and endpoint from the same environment as the rest (the SDK alone would read process.env).
  const client = makeDynamoClient({
    region: config.region,
    ...(env.AWS_ENDPOINT_URL_DYNAMODB ? { endpoint: env.AWS_ENDPOINT_URL_DYNAMODB } : {}),
  });
  const stores = makeDynamoStores({ client, tables: config.tables });
  const app = createApp({
    events: stores.events,
    readModel: stores.readModel,
    sensors: stores.sensors,
    authenticate: jwtAuth({
      ...config.auth,
      ...(config.issuer ? { issuer: config.issuer } : {}),
      ...(config.audience ? { audience: config.audience } : {}),
    }),
  });
  return serve({ fetch: app.fetch, port: config.port, hostname: config.host });
};
