/**
 * @medusa/lambda: the Lambda handlers, shells over the domain's use cases
 * (ingest, re-attribution; the API's entry point is `src/api-handler.ts`),
 * their configuration, and the one layer a process runs the use cases with
 * (the local stack uses it too).
 */
export {
  ConfigurationError,
  configFromEnv,
  type HandlerSettings,
  type LambdaConfig,
  sensorTopicTemplate,
  settingsFromEnv,
} from "./config.js";
export {
  type ActivityStreamOutcome,
  activityOptionsOf,
  activityStreamHandler,
  makeActivityHandler,
  type SensorStreamEvent,
  type SensorStreamRecord,
  type StreamBatchResponse,
} from "./handlers/activity.js";
export {
  certificateRetirementHandler,
  makeCertificateRetirementHandler,
  type RetirementResult,
} from "./handlers/certificate-retirement.js";
export {
  gapDetectorHandler,
  gapSettingsFromEnv,
  makeGapDetectorHandler,
  makePresenceHandler,
  presenceHandler,
} from "./handlers/fleet.js";
export { ingestHandler, makeIngestHandler } from "./handlers/ingest.js";
export {
  makePreProvisioningHandler,
  preProvisioningHandler,
} from "./handlers/pre-provisioning.js";
export {
  makeReattributeHandler,
  reattributeHandler,
  type StreamEvent,
} from "./handlers/reattribute.js";
export { type IngestResult, renderIngestOutcome } from "./handlers/render.js";
export { rotationHookHandler } from "./handlers/rotation-hook.js";
export { runOrReject, type Services, type Storage, servicesLayer } from "./services.js";
