import { dynamoLayer, systemClock } from "@medusa/adapters";
import {
  apiConfigFromEnv,
  createApp,
  jwtAuth,
  jwtOptions,
  loadSecrets,
  withCursorKey,
} from "@medusa/api";
import { Layer } from "effect";
import { handle } from "hono/aws-lambda";

// Wired once per container: the secrets read from Secrets Manager first, at cold start.
const config = apiConfigFromEnv(await loadSecrets(process.env));
const app = createApp({
  layer: Layer.merge(dynamoLayer(config), systemClock),
  authenticate: jwtAuth(jwtOptions(config)),
  ...withCursorKey(config),
});

/** The API behind API Gateway (HTTP API, payload 2.0) or a Lambda function URL. */
export const handler = handle(app);
