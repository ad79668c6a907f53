/** @medusa/api: the HTTP API (Hono) — assignment commands, audit trail, patient timelines. */
export * from "./app.js";
export * from "./auth.js";
export * from "./config.js";
export type { ApiDeps } from "./context.js";
export * from "./openapi.js";
export * from "./problems.js";
export * from "./testing.js";
