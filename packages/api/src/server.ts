import { serve } from "@hono/node-server";
import { dynamoLayer, systemClock } from "@medusa/adapters";
import { Layer } from "effect";
import { createApp } from "./app.js";
import { jwtAuth } from "./auth.js";
import { apiConfigFromEnv, jwtOptions, withCursorKey } from "./config.js";

/** The API on Node, configured from the environment (see the README). */
export const startServer = (env: Readonly<Record<string, string | undefined>> = process.env) => {
  const config = apiConfigFromEnv(env);
  const app = createApp({
    layer: Layer.merge(dynamoLayer(config), systemClock),
    authenticate: jwtAuth(jwtOptions(config)),
    ...withCursorKey(config),
  });
  return serve({ fetch: app.fetch, port: config.port, hostname: config.host });
};
