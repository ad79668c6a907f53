/**
 * @medusa/stack: the whole system on one machine, for a newcomer's first run,
 * the end-to-end test and the stack benchmark. It composes the other packages
 * and holds no business rules.
 */
export {
  AGENT_BUNDLE_BUCKET,
  InvalidBundle,
  type PutBundle,
  type PutBundleInput,
  putBundle,
} from "./bundles.js";
export { curlExamples, main } from "./cli.js";
export type { BrokerMessage } from "./failures-file.js";
export { deviceConfig, simulatedDeviceIds } from "./fleet.js";
export type { IngestRule, StoredMessage } from "./ingest-rule.js";
export {
  InvalidClaimRequest,
  type IssueClaimOptions,
  type IssuedClaim,
  issueClaim,
} from "./issue-claim.js";
export {
  InvalidDeviceId,
  type IssueDeviceOptions,
  type IssuedDevice,
  issueDevice,
} from "./issue-device.js";
export type { StackLog } from "./log.js";
export { LOCAL_ROTATION_TEMPLATE_NAME, LOCAL_TEMPLATE_NAME } from "./provisioning.js";
export {
  CLOUD_IDENTITY,
  PortInUse,
  type Stack,
  type StackOptions,
  StartAborted,
  startStack,
} from "./stack.js";
