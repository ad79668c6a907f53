/**
 * @medusa/adapters/shadow: the AWS IoT Device Shadow service's rules as pure
 * code (merge, delta, metadata, versions, limits, its rejections and its
 * topics). The local broker's emulation runs them; the device agent uses the
 * limits and topics. No I/O here.
 */
export {
  clientTokenOfPayload,
  DELETED_VERSION_KEPT_MS,
  type DeleteOutcome,
  deleteShadow,
  deltaOf,
  type ErrorDocument,
  epochSeconds,
  errorDocument,
  exists,
  type GetOutcome,
  getShadow,
  MAX_CLIENT_TOKEN_BYTES,
  MAX_IN_FLIGHT_REQUESTS,
  MAX_STATE_DEPTH,
  mergeState,
  metadataOf,
  type Rejected,
  SHADOW_ERRORS,
  SHADOW_NAME,
  SHADOW_STATE_LIMIT_BYTES,
  type ShadowFailure,
  type ShadowRecord,
  shadowNotFound,
  stateBytes,
  type UpdateOutcome,
  updateShadow,
} from "./document.js";
export { isObject, type Json, type JsonObject, jsonEqual } from "./json.js";
export {
  parseShadowRequest,
  SHADOW_OPERATIONS,
  type ShadowAddress,
  type ShadowOperation,
  shadowTopic,
  shadowTopicPrefix,
} from "./topics.js";
