import { strict as assert } from "node:assert";
import { storesLayer } from "@medusa/adapters";
import { makeInMemoryStores } from "@medusa/adapters/testing";
import { configFromEnv, ingestHandler, servicesLayer } from "@medusa/lambda";

// The ingest handler over in-memory stores (in AWS: `handler`, on DynamoDB as the environment says).
const stores = makeInMemoryStores();
const ingest = ingestHandler(
  configFromEnv({}),
  servicesLayer(storesLayer(stores), { cacheTtlMs: 30_000 }),
);

// What the IoT rule delivers: the device's batch plus topic, client id and receive time.
const result = await ingest({
  v: 1,
  t0: 1763625600000,
  n0: 42,
  s: [
    [0, 0, 0.01, 0.02, 0.98],
    [100, 1, 0.02, 0.01, 0.99],
  ],
  topic: "medusa/medusa-pi-01/sensor/data",
  client_id: "medusa-pi-01",
  received_at: 1763625600250,
});
assert.deepEqual(JSON.parse(result.body), {
  device_id: "medusa-pi-01",
  patient_id: "UNASSIGNED",
  status: "stored",
  format: "batch",
  samples: 2,
  segments: 1,
  written: 1,
});
assert.equal(stores.sensors.all()[0]?.samples.length, 2);
