import { IoTClient } from "@aws-sdk/client-iot";
import {
  commitItem,
  localCredentials,
  makeDynamoClient,
  makeDynamoStores,
  makeIotThingCertificates,
  storesLayer,
  systemClock,
  type TableNames,
} from "@medusa/adapters";
import {
  createCertificateRegistry,
  registryThingCertificates,
  startCertificatesControlPlane,
} from "@medusa/adapters/broker";
import { dynamoStreamReader, registeredThing, testTables } from "@medusa/adapters/testing";
import { createApp } from "@medusa/api";
import { signToken, testAuth } from "@medusa/api/testing";
import { deviceId, encodeSampleBatch, epochMillis, ThingCertificates } from "@medusa/domain";
import {
  activityOptionsOf,
  activityStreamHandler,
  certificateRetirementHandler,
  configFromEnv,
  gapDetectorHandler,
  ingestHandler,
  presenceHandler,
  reattributeHandler,
  servicesLayer,
} from "@medusa/lambda";
import { Effect, Layer } from "effect";
import { afterAll, beforeAll, expect, inject, it } from "vitest";
import { HANDLERS, type HandlerName, RETIREMENT_IOT_ACCESS, TABLE_ACCESS } from "./access.js";

/**
 * The IAM actions a DynamoDB request needs, as `dynamodb:<Action> <table>[/<index>]`.
 * A transaction is authorized by its parts; a batch by the batch action.
 */
const needs = (operation: string, input: Record<string, unknown>): Array<[string, string]> => {
  const table = (i: Record<string, unknown>) =>
    `${String(i.TableName)}${i.IndexName ? `/${String(i.IndexName)}` : ""}`;
  switch (operation) {
    case "TransactWriteItems":
      return (input.TransactItems as Array<Record<string, Record<string, unknown>>>).flatMap(
        (item) =>
          Object.entries(item).map(([kind, part]): [string, string] => [
            kind === "ConditionCheck" ? "ConditionCheckItem" : `${kind}Item`,
            table(part),
          ]),
      );
    case "TransactGetItems":
      return (input.TransactItems as Array<{ Get: Record<string, unknown> }>).map((item) => [
        "GetItem",
        table(item.Get),
      ]);
    case "BatchWriteItem":
    case "BatchGetItem":
      return Object.keys(input.RequestItems as object).map((t) => [operation, t]);
    default:
      return [[operation, table(input)]];
  }
};

let endpoint: string;
let tables: TableNames;
let drop: () => Promise<void>;
beforeAll(async () => {
  endpoint = inject("dynamoEndpoint");
  ({ tables, drop } = await testTables(endpoint));
}, 60_000);
afterAll(async () => {
  await drop?.();
});

/** A client per handler that writes down every permission its requests need, by table role. */
const recordingClient = (into: Set<string>) => {
  const client = makeDynamoClient({ endpoint, region: "local", credentials: localCredentials });
  const roles = new Map(Object.entries(tables).map(([role, name]) => [name, role]));
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = String(context.commandName).replace(/Command$/, "");
      for (const [action, resource] of needs(operation, args.input as Record<string, unknown>)) {
        const [name = "", index] = resource.split("/");
        into.add(`dynamodb:${action} ${roles.get(name) ?? name}${index ? `/${index}` : ""}`);
      }
      return next(args);
    },
    { step: "initialize", name: "recordPermissions" },
  );
  return client;
};

const granted = (handler: HandlerName) =>
  TABLE_ACCESS[handler]
    .flatMap((g) => g.actions.map((a) => `${a} ${g.table}${g.index ? `/${g.index}` : ""}`))
    .sort();

it("TABLE_ACCESS lists exactly the DynamoDB calls each handler makes", async () => {
  const used: Record<HandlerName, Set<string>> = {
    ingest: new Set(),
    reattribute: new Set(),
    api: new Set(),
    presence: new Set(),
    "gap-detector": new Set(),
    activity: new Set(),
    "certificate-retirement": new Set(),
  };
  const device = deviceId("pi-access-1");
  const t0 = Date.now() - 3_600_000;

  // The API: assign, read, hand over (backdated), end, read the timeline.
  const apiStores = makeDynamoStores({ client: recordingClient(used.api), tables });
  const app = createApp({
    layer: Layer.merge(storesLayer(apiStores), systemClock),
    authenticate: testAuth(),
  });
  const token = await signToken({ email: "nurse@clinic.example", roles: ["clinician"] });
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        "idempotency-key": `${method}-${path}-${JSON.stringify(body)}`,
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return res.status;
  };
  expect(
    await call("POST", "/api/devices/assign", {
      device_id: device,
      patient_id: "P-1",
      patient_name: "Ada",
      assignment_timestamp: t0,
    }),
  ).toBe(201);

  // Ingest: samples the P-1 assignment covers, and a payload that goes to the dead letters.
  const config = configFromEnv({});
  const ingest = ingestHandler(
    config,
    servicesLayer(storesLayer(makeDynamoStores({ client: recordingClient(used.ingest), tables })), {
      cacheTtlMs: 30_000,
    }),
  );
  const topic = `medusa/${device}/sensor/data`;
  const samples = [1_000, 1_100, 1_200].map((dt, i) => ({
    timestamp: epochMillis(t0 + dt),
    sequence: i,
    x: 0,
    y: 0,
    z: 1,
    magnitude: 1,
  }));
  const stored = await ingest({
    ...JSON.parse(encodeSampleBatch(samples)),
    topic,
    client_id: device,
    received_at: t0 + 2_000,
  });
  expect(stored.statusCode).toBe(200);
  const rejected = await ingest({
    nonsense: true,
    topic,
    client_id: device,
    received_at: t0 + 2_000,
  });
  expect(rejected.statusCode).toBe(400);

  // Activity: the sensor table's stream, as Lambda delivers it, into the patient's blocks.
  const sensorStream = await dynamoStreamReader(endpoint, tables.sensor);
  const activity = activityStreamHandler(
    activityOptionsOf(config),
    servicesLayer(
      storesLayer(makeDynamoStores({ client: recordingClient(used.activity), tables })),
      { cacheTtlMs: 0 },
    ),
  );
  const computed = await activity({ Records: await sensorStream.next() });
  expect(computed.refreshed.written).toBeGreaterThan(0);
  // A record that cannot be read is kept in the dead letters.
  expect(
    await activity({
      Records: [{ eventName: "INSERT", dynamodb: { SequenceNumber: "1", NewImage: {} } }],
    }),
  ).toMatchObject({ batchItemFailures: [], deadLettered: 1 });

  // A hand-over backdated before those samples: they now belong to P-2.
  expect(
    await call("POST", "/api/devices/reassign", {
      device_id: device,
      patient_id: "P-2",
      patient_name: "Bob",
      assignment_timestamp: t0 + 500,
    }),
  ).toBe(201);
  expect(await call("GET", `/api/devices/${device}/patient`)).toBe(200);
  expect(await call("GET", `/api/devices/${device}/assignments`)).toBe(200);
  expect(await call("GET", "/api/patients/P-2/devices?include=history")).toBe(200);
  expect(
    await call("GET", `/api/patients/P-2/sensor-data?start_time=${t0}&end_time=${t0 + 10_000}`),
  ).toBe(200);
  // The patient's activity epochs (their index).
  expect(
    await call("GET", `/api/patients/P-2/activity?start_time=${t0}&end_time=${t0 + 3_600_000}`),
  ).toBe(200);
  expect(
    await call("POST", "/api/devices/unassign", {
      device_id: device,
      patient_id: "P-2",
      assignment_end: t0 + 5_000,
    }),
  ).toBe(200);

  // Corrections of the record: the hand-over was earlier (the row moves to its new key),
  // and the record as it stood before.
  expect(
    await call("POST", `/api/devices/${device}/assignments/${t0 + 500}/amend`, {
      assignment_timestamp: t0 + 400,
      move_adjoining: true,
      reason: "wrong_time",
      note: "ward log",
    }),
  ).toBe(200);
  expect(await call("GET", `/api/devices/${device}/assignments?as_of=${Date.now()}`)).toBe(200);

  // Re-attribution of the hand-over, as the stream delivers it (both passes).
  const { commits } = await Effect.runPromise(apiStores.events.load(device));
  const handOver = commits[1];
  expect(handOver?.events.map((e) => e._tag)).toEqual(["AssignmentEnded", "DeviceAssigned"]);
  if (!handOver) return;
  const reattribute = reattributeHandler(
    { ...config, settleMs: 0 },
    servicesLayer(
      storesLayer(makeDynamoStores({ client: recordingClient(used.reattribute), tables })),
      { cacheTtlMs: 0 },
    ),
  );
  const {
    reattributed: [first],
  } = await reattribute({
    Records: [{ eventName: "INSERT", dynamodb: { NewImage: commitItem(handOver) } }],
  });
  expect(first?.rewritten).toBeGreaterThan(0);
  // The samples moved to P-2: P-2's block is written, P-1's removed (its item deleted).
  const moved = await activity({ Records: await sensorStream.next() });
  expect(moved.refreshed).toMatchObject({ removed: 1 });
  expect(moved.batchItemFailures).toEqual([]);

  // Presence: the device connects (and something that is not a device's event is kept).
  const presence = presenceHandler(
    servicesLayer(
      storesLayer(makeDynamoStores({ client: recordingClient(used.presence), tables })),
      { cacheTtlMs: 0 },
    ),
  );
  expect(
    await presence({
      clientId: device,
      timestamp: Date.now(),
      eventType: "connected",
      sessionIdentifier: "a4666d2a7d844ae4ac5d7b38c9cb7967",
      principalIdentifier: "12345678901234567890123456789012",
      versionNumber: 1,
      topic: `$aws/events/presence/connected/${device}`,
    }),
  ).toMatchObject({ _tag: "Recorded" });
  expect(await presence({ nonsense: true, topic: null })).toMatchObject({ _tag: "Rejected" });

  // The gap detector: a worn device silent for longer than the gap opens an alert; once it
  // is no longer worn, the alert closes.
  const other = deviceId("pi-access-2");
  expect(
    await call("POST", "/api/devices/assign", {
      device_id: other,
      patient_id: "P-3",
      assignment_timestamp: t0,
    }),
  ).toBe(201);
  const [assigned] = (await Effect.runPromise(apiStores.events.load(other))).commits;
  if (!assigned) return;
  await reattribute({
    Records: [{ eventName: "INSERT", dynamodb: { NewImage: commitItem(assigned) } }],
  });
  const detect = gapDetectorHandler(
    servicesLayer(
      storesLayer(makeDynamoStores({ client: recordingClient(used["gap-detector"]), tables })),
      { cacheTtlMs: 0 },
    ),
    { notify: () => Effect.void },
    { gapMs: 60_000 },
  );
  expect((await detect()).opened.length).toBeGreaterThan(0);
  // The fleet view: the list, one device, the open alerts, acknowledging one.
  expect(await call("GET", "/api/devices?limit=10")).toBe(200);
  expect(await call("GET", `/api/devices/${other}`)).toBe(200);
  const alerts = await app.request("/api/alerts", {
    headers: { authorization: `Bearer ${token}` },
  });
  const [alert] = ((await alerts.json()) as { alerts: Array<{ alert_id: string }> }).alerts;
  expect(await call("POST", `/api/alerts/${alert?.alert_id}/acknowledge`)).toBe(200);
  expect(await call("POST", "/api/devices/unassign", { device_id: other, patient_id: "P-3" })).toBe(
    200,
  );
  const [, ended] = (await Effect.runPromise(apiStores.events.load(other))).commits;
  if (!ended) return;
  await reattribute({
    Records: [{ eventName: "INSERT", dynamodb: { NewImage: commitItem(ended) } }],
  });
  expect((await detect()).closed.map((c) => c.deviceId)).toContain(other);

  // Certificate retirement: an event it cannot read is kept (its IoT calls: the next test).
  const retire = certificateRetirementHandler(
    Layer.mergeAll(
      storesLayer(
        makeDynamoStores({ client: recordingClient(used["certificate-retirement"]), tables }),
      ),
      systemClock,
      Layer.succeed(ThingCertificates, registryThingCertificates(createCertificateRegistry())),
    ),
    { jobIdPrefix: "medusa-dev-" },
    () => {},
  );
  expect(await retire({ eventType: "JOB_EXECUTION" })).toMatchObject({ kind: "dead-lettered" });

  for (const handler of HANDLERS)
    expect([...used[handler]].sort(), handler).toEqual(granted(handler));
});

it("RETIREMENT_IOT_ACCESS lists exactly the AWS IoT calls the retirement function makes", async () => {
  const registry = createCertificateRegistry();
  const { thing, ids } = registeredThing(registry, ["ACTIVE", "ACTIVE"]);
  const plane = await startCertificatesControlPlane(registry);
  const calls = new Set<string>();
  const client = new IoTClient({
    endpoint: plane.url,
    region: "local",
    credentials: localCredentials,
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.add(`iot:${String(context.commandName).replace(/Command$/, "")}`);
      return next(args);
    },
    { step: "initialize", name: "recordIotCalls" },
  );
  try {
    const retire = certificateRetirementHandler(
      Layer.mergeAll(
        storesLayer(makeDynamoStores({ client: recordingClient(new Set()), tables })),
        systemClock,
        Layer.succeed(ThingCertificates, makeIotThingCertificates(client)),
      ),
      { jobIdPrefix: "medusa-dev-" },
      () => {},
    );
    expect(
      await retire({
        eventType: "JOB_EXECUTION",
        operation: "succeeded",
        jobId: "medusa-dev-certificate-rotate-access",
        thingArn: `arn:aws:iot:local:000000000000:thing/${thing}`,
        status: "SUCCEEDED",
        statusDetails: { certificate_id: ids[1] as string },
      }),
    ).toMatchObject({ kind: "retired", certificateIds: [ids[0]] });
    expect([...calls].sort()).toEqual(
      [...RETIREMENT_IOT_ACCESS.things, ...RETIREMENT_IOT_ACCESS.certificates].sort(),
    );
  } finally {
    client.destroy();
    await plane.close();
  }
});
