/**
 * @medusa/lambda: the ingest and re-attribution code (shared with the local
 * stack) and the Lambda handlers around it.
 */
export * from "./config.js";
export * from "./ingest/ingest.js";
export * from "./ingest/interval-cache.js";
export * from "./ingest/rule-event.js";
export * from "./reattribution/reattribute.js";
