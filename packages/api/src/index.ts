/** @medusa/api: the HTTP API (Hono) — assignment commands, audit trail, patient timelines. */
export { createApp, MAX_BODY_BYTES } from "./app.js";
export {
  type Authenticate,
  DEFAULT_MAX_TOKEN_AGE_S,
  type JwtAuthOptions,
  jwtAuth,
  type Principal,
  type Role,
  rolesOf,
  Unauthenticated,
} from "./auth.js";
export {
  type ApiConfig,
  ApiConfigError,
  apiConfigFromEnv,
  jwtOptions,
  withCursorKey,
} from "./config.js";
export {
  type ConsoleConfig,
  type ConsoleOidc,
  type ConsoleOptions,
  clinicTimeZone,
  type DevSignIn,
  withConsole,
} from "./console.js";
export type { ApiDeps, ApiPorts } from "./context.js";
export { cursorKeyFrom } from "./cursor.js";
export { type ApiFailure, problemFor, problemOf } from "./errors.js";
export { jsonSchemaOf } from "./json-schema.js";
export { openApiDocument } from "./openapi.js";
export { PROBLEM_BASE, type Problem } from "./problems.js";
export { loadJwtSecret, loadSecrets, type SecretReader } from "./secret.js";
export { ARROW_STREAM, timelinePageArrow } from "./timeline-arrow.js";
export { timelinePageJson } from "./timeline-json.js";
