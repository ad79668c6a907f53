import {
  makeInMemoryEventStore,
  makeInMemoryReadModel,
  makeInMemorySensorStore,
} from "@medusa/adapters/testing";
import { EventStoreUnavailable, StorageUnavailable } from "@medusa/domain";
import { Effect } from "effect";
import { apiSuite, type Stores } from "./testing/app-suite.js";

const down = (store: string) => () =>
  Effect.fail(new StorageUnavailable({ store, operation: "test", reason: "down" }));

/** Stores that fail as an unreachable database does. */
const brokenStores: Stores = {
  events: {
    load: () => Effect.fail(new EventStoreUnavailable({ operation: "load", reason: "down" })),
    append: () => Effect.fail(new EventStoreUnavailable({ operation: "append", reason: "down" })),
  },
  readModel: {
    deviceIntervals: down("mapping"),
    currentAssignment: down("mapping"),
    patientIntervals: down("mapping"),
  },
  sensors: {
    write: down("sensor"),
    deviceSegments: down("sensor"),
    deviceSamples: down("sensor"),
    lastSampleAt: down("sensor"),
    replace: down("sensor"),
    patientTimeline: down("sensor"),
  },
};

apiSuite("in memory", async () => {
  const events = makeInMemoryEventStore();
  return {
    stores: {
      events,
      readModel: makeInMemoryReadModel(events),
      sensors: makeInMemorySensorStore(),
    },
    broken: brokenStores,
    serve: async (app) => ({
      fetch: async (path, init) => app.request(path, init),
      close: async () => {},
    }),
  };
});
