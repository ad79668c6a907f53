import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  ActivityStore,
  type ActivityStoreService,
  Alerts,
  type AlertsService,
  AssignmentReadModel,
  type AssignmentReadModelService,
  DeadLetters,
  type DeadLettersService,
  DeviceStatuses,
  type DeviceStatusesService,
  EventStore,
  type EventStoreService,
  IdempotencyKeys,
  type IdempotencyKeysService,
  SensorStore,
  type SensorStoreService,
} from "@medusa/domain";
import { Layer } from "effect";
import { makeDynamoActivityStore } from "./activity-store.js";
import { makeDynamoAlerts } from "./alerts.js";
import { makeDynamoClient } from "./client.js";
import { makeDynamoDeadLetters } from "./dead-letters.js";
import { makeDynamoDeviceStatuses } from "./device-statuses.js";
import { makeDynamoEventStore } from "./event-store.js";
import { makeDynamoIdempotencyKeys } from "./idempotency-keys.js";
import { makeDynamoReadModel } from "./read-model.js";
import { makeDynamoSensorStore } from "./sensor-store.js";
import type { DynamoSettings } from "./settings.js";
import type { TableNames } from "./tables.js";

/** Every port that stores something. */
export type StoragePorts =
  | EventStore
  | AssignmentReadModel
  | SensorStore
  | DeadLetters
  | IdempotencyKeys
  | DeviceStatuses
  | Alerts
  | ActivityStore;

export interface DynamoStores {
  readonly events: EventStoreService;
  readonly readModel: AssignmentReadModelService;
  readonly sensors: SensorStoreService;
  readonly deadLetters: DeadLettersService;
  readonly idempotency: IdempotencyKeysService;
  readonly deviceStatuses: DeviceStatusesService;
  readonly alerts: AlertsService;
  readonly activity: ActivityStoreService;
}

/** Every port on DynamoDB, over one client. */
export const makeDynamoStores = (options: {
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
}): DynamoStores => ({
  events: makeDynamoEventStore(options),
  readModel: makeDynamoReadModel(options),
  sensors: makeDynamoSensorStore(options),
  deadLetters: makeDynamoDeadLetters(options),
  idempotency: makeDynamoIdempotencyKeys(options),
  deviceStatuses: makeDynamoDeviceStatuses(options),
  alerts: makeDynamoAlerts(options),
  activity: makeDynamoActivityStore(options),
});

/** Stores (DynamoDB's, the in-memory twins, or any mix) as one layer providing every storage port. */
export const storesLayer = (stores: DynamoStores): Layer.Layer<StoragePorts> =>
  Layer.mergeAll(
    Layer.succeed(EventStore, stores.events),
    Layer.succeed(AssignmentReadModel, stores.readModel),
    Layer.succeed(SensorStore, stores.sensors),
    Layer.succeed(DeadLetters, stores.deadLetters),
    Layer.succeed(IdempotencyKeys, stores.idempotency),
    Layer.succeed(DeviceStatuses, stores.deviceStatuses),
    Layer.succeed(Alerts, stores.alerts),
    Layer.succeed(ActivityStore, stores.activity),
  );

/** Every storage port on DynamoDB as the settings say (`dynamoSettingsFromEnv`). */
export const dynamoLayer = (settings: DynamoSettings): Layer.Layer<StoragePorts> =>
  storesLayer(
    makeDynamoStores({
      client: makeDynamoClient({
        ...(settings.region ? { region: settings.region } : {}),
        ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      }),
      tables: settings.tables,
    }),
  );
