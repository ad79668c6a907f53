/** Suites and helpers for vitest: every store implementation runs the same contract. */

export { type ActivityContractStores, activityStoreContract } from "./activity-store-contract.js";
export { allowListContract } from "./allow-list-contract.js";
export { deviceShadowsContract, type ShadowsUnderTest } from "./device-shadows-contract.js";
export { type ContractOptions, eventStoreContract } from "./event-store-contract.js";
export { alertsContract, deviceStatusesContract } from "./fleet-contract.js";
export { idempotencyKeysContract } from "./idempotency-contract.js";
export { sensorStoreContract } from "./sensor-store-contract.js";
export { tempDirs } from "./temp-dirs.js";
export {
  type ThingCertificatesUnderTest,
  thingCertificatesContract,
} from "./thing-certificates-contract.js";
