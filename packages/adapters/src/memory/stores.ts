import { type InMemoryActivityStore, makeInMemoryActivityStore } from "./activity-store.js";
import { makeInMemoryAlerts } from "./alerts.js";
import { type InMemoryDeadLetters, makeInMemoryDeadLetters } from "./dead-letters.js";
import { makeInMemoryDeviceStatuses } from "./device-statuses.js";
import { type InMemoryEventStore, makeInMemoryEventStore } from "./event-store.js";
import { makeInMemoryIdempotencyKeys } from "./idempotency-keys.js";
import { makeInMemoryReadModel } from "./read-model.js";
import { type InMemorySensorStore, makeInMemorySensorStore } from "./sensor-store.js";

export interface InMemoryStores {
  readonly events: InMemoryEventStore;
  readonly readModel: ReturnType<typeof makeInMemoryReadModel>;
  readonly sensors: InMemorySensorStore;
  readonly deadLetters: InMemoryDeadLetters;
  readonly idempotency: ReturnType<typeof makeInMemoryIdempotencyKeys>;
  readonly deviceStatuses: ReturnType<typeof makeInMemoryDeviceStatuses>;
  readonly alerts: ReturnType<typeof makeInMemoryAlerts>;
  readonly activity: InMemoryActivityStore;
}

/** Every storage port in memory, the read model projected from the event store (`storesLayer` makes them a layer). */
export const makeInMemoryStores = (): InMemoryStores => {
  const events = makeInMemoryEventStore();
  return {
    events,
    readModel: makeInMemoryReadModel(events),
    sensors: makeInMemorySensorStore(),
    deadLetters: makeInMemoryDeadLetters(),
    idempotency: makeInMemoryIdempotencyKeys(),
    deviceStatuses: makeInMemoryDeviceStatuses(),
    alerts: makeInMemoryAlerts(),
    activity: makeInMemoryActivityStore(),
  };
};
