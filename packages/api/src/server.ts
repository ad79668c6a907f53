import { serve } from "@hono/node-server";
import { dynamoLayer, systemClock } from "@medusa/adapters";
import { Layer } from "effect";
import { createApp } from "./app.js";
import { jwtAuth } from "./auth.js";
import { ApiConfigError, apiConfigFromEnv, jwtOptions, withCursorKey } from "./config.js";
import { clinicTimeZone, withConsole } from "./console.js";

/** The API on Node, configured from the environment (see the README). */
export const startServer = (env: Readonly<Record<string, string | undefined>> = process.env) => {
  const config = apiConfigFromEnv(env);
  const app = createApp({
    layer: Layer.merge(dynamoLayer(config), systemClock),
    authenticate: jwtAuth(jwtOptions(config)),
    ...withCursorKey(config),
  });
  // The clinicians' console at `/`, when its build is given (`MEDUSA_CONSOLE_DIR`).
  const consoleDir = env.MEDUSA_CONSOLE_DIR;
  const served = consoleDir ? consoleOf(app, consoleDir, timeZoneOf(env)) : app;
  return serve({ fetch: served.fetch, port: config.port, hostname: config.host });
};

const timeZoneOf = (env: Readonly<Record<string, string | undefined>>) => {
  try {
    return clinicTimeZone(env.MEDUSA_CLINIC_TIME_ZONE ?? "UTC");
  } catch (e) {
    throw new ApiConfigError({ problem: `MEDUSA_CLINIC_TIME_ZONE: ${(e as Error).message}` });
  }
};

const consoleOf = (app: ReturnType<typeof createApp>, dir: string, timeZone: string) => {
  try {
    return withConsole(app, { dir, config: { timeZone } });
  } catch (e) {
    throw new ApiConfigError({ problem: `MEDUSA_CONSOLE_DIR: ${(e as Error).message}` });
  }
};
