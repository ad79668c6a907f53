/**
 * Test and development helpers (no test runner needed): the in-memory twins
 * of the stores, DynamoDB Local and fresh tables on it, free ports, running a
 * command as an operator does. The vitest suites (store contracts, temporary
 * folders) are `@medusa/adapters/testing/vitest`.
 */

export {
  type InMemoryActivityStore,
  makeInMemoryActivityStore,
} from "../memory/activity-store.js";
export { makeInMemoryAlerts } from "../memory/alerts.js";
export { makeInMemoryAllowList } from "../memory/allow-list.js";
export { type InMemoryDeadLetters, makeInMemoryDeadLetters } from "../memory/dead-letters.js";
export {
  type InMemoryDeviceShadows,
  makeInMemoryDeviceShadows,
} from "../memory/device-shadows.js";
export { makeInMemoryDeviceStatuses } from "../memory/device-statuses.js";
export { type InMemoryEventStore, makeInMemoryEventStore } from "../memory/event-store.js";
export { makeInMemoryIdempotencyKeys } from "../memory/idempotency-keys.js";
export { makeInMemoryReadModel } from "../memory/read-model.js";
export { type InMemorySensorStore, makeInMemorySensorStore } from "../memory/sensor-store.js";
export { type InMemoryStores, makeInMemoryStores } from "../memory/stores.js";
export { runCommand } from "./command.js";
export {
  type DynamoLocal,
  DynamoLocalFailed,
  type DynamoLocalOptions,
  freePort,
  JIT_FOR_SHORT_RUNS,
  portTaken,
  startDynamoLocal,
} from "./dynamo-local.js";
export { dynamoStreamReader, type StreamRecordJson } from "./dynamo-streams.js";
export { registeredThing } from "./registered-thing.js";
export { type LocalStores, startLocalStores, testTables } from "./test-tables.js";
