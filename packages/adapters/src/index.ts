/**
 * @medusa/adapters: the domain's ports on real infrastructure, each as a
 * `Layer`: DynamoDB (event store, read model, sensor store, dead letters),
 * the interval cache, the clock. The device side has its own entries
 * (`./mqtt`, `./outbox`, `./sensor`), the local broker `./broker`, and test
 * and development helpers `./testing`.
 */
export { clockFrom, systemClock } from "./clock.js";
export { ActivityItem, activityFromItem, activityItemKey } from "./dynamodb/activity-item.js";
export { makeDynamoActivityStore } from "./dynamodb/activity-store.js";
export {
  AllowListItem,
  dynamoAllowListLayer,
  makeDynamoAllowList,
} from "./dynamodb/allow-list.js";
export {
  type DynamoClientOptions,
  localCredentials,
  makeDynamoClient,
  type UsageMeter,
  type UsageSnapshot,
  withUsageMetrics,
} from "./dynamodb/client.js";
export { CommitItem, commitItem, decodeCommitItem } from "./dynamodb/commit-item.js";
export { DeadLetterItem } from "./dynamodb/dead-letter-item.js";
export { AlertItem, DeviceStatusItem } from "./dynamodb/fleet-items.js";
export { IdempotencyKeyItem } from "./dynamodb/idempotency-keys.js";
export {
  indexEntry,
  itemSize,
  STORAGE_OVERHEAD_BYTES,
} from "./dynamodb/item-size.js";
export { MappingRow } from "./dynamodb/mapping-row.js";
export { scanTable } from "./dynamodb/scan-table.js";
export { SensorItem, segmentItem, TIMELINE_PROJECTION } from "./dynamodb/sensor-item.js";
export {
  type DynamoSettings,
  dynamoSettingsFromEnv,
  tableNamesFromEnv,
} from "./dynamodb/settings.js";
export {
  type DynamoStores,
  dynamoLayer,
  makeDynamoStores,
  type StoragePorts,
  storesLayer,
} from "./dynamodb/stores.js";
export {
  type StreamImage,
  segmentFromStreamImage,
  streamImageItem,
} from "./dynamodb/stream-image.js";
export {
  DEFAULT_TABLE_NAMES,
  DEVICE_ALERTS_INDEX,
  ensureTables,
  OPEN_ALERTS_INDEX,
  PATIENT_ACTIVITY_INDEX,
  PATIENT_DEVICE_INDEX,
  PATIENT_TIMELINE_INDEX,
  SENSOR_TTL_ATTRIBUTE,
  type TableNames,
  type TableRole,
  tableDefinitions,
  tableNames,
  timeToLive,
} from "./dynamodb/tables.js";
export {
  DEFAULT_CACHE_TTL_MS,
  type IntervalCache,
  intervalCacheLayer,
  makeIntervalCache,
} from "./interval-cache.js";
export {
  certificateIdOfArn,
  connectIotThingCertificates,
  makeIotThingCertificates,
} from "./iot-certificates/thing-certificates.js";
export {
  connectIotDataShadows,
  type IotDataSettings,
  iotDataShadowsLayer,
  latestChange,
  makeIotDataDeviceShadows,
  shadowFromDocument,
} from "./iot-data/device-shadows.js";
export {
  connectIotDeviceJobs,
  type DeviceJobsSettings,
  deviceJobOf,
  type IotJobsSettings,
  jobDocumentOf,
  jobExecutionsRetryConfigOf,
  MAX_LISTED_JOBS,
  makeIotDeviceJobs,
} from "./iot-jobs/device-jobs.js";
export { rememberingRecentWrites } from "./recent-writes.js";
export {
  type RememberingDeviceStatuses,
  rememberingDeviceStatuses,
} from "./remembered-statuses.js";
export { SampleTimesSeen } from "./sample-times-seen.js";
export {
  HttpUrl,
  NumberAtLeast,
  SettingError,
  setting,
  settingOrThrow,
} from "./settings.js";
export { alertMessage, makeSnsAlertNotifier } from "./sns/alert-notifier.js";
