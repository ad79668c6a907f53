import { apiConfigFromEnv, createApp, jwtAuth } from "@medusa/api";
import { handle } from "hono/aws-lambda";
import { storesFromEnv } from "./config.js";

// Wired once per container.
const config = apiConfigFromEnv(process.env);
const stores = storesFromEnv(process.env);
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

/** The API behind API Gateway (HTTP API, payload 2.0) or a Lambda function URL. */
export const handler = handle(app);
