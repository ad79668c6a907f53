import {
  BatchWriteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  ProvisionedThroughputExceededException,
  PutItemCommand,
  QueryCommand,
  type WriteRequest,
} from "@aws-sdk/client-dynamodb";
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import {
  actor,
  commandId,
  type DeviceId,
  deviceId,
  EventStore,
  epochMillis,
  eventsOf,
  executeCommand,
  intervalsOf,
  mappingRowsOf,
  patientDeviceHistory,
  patientId,
  segmentKey,
} from "@medusa/domain";
import { clinicDays, commandsFrom, scenario, T0 } from "@medusa/domain/testing";
import { Effect, Either } from "effect";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { eventStoreContract } from "../testing/event-store-contract.js";
import { idempotencyKeysContract } from "../testing/idempotency-contract.js";
import { sensorStoreContract } from "../testing/sensor-store-contract.js";
import { testTables } from "../testing/test-tables.js";
import { localCredentials, makeDynamoClient, withUsageMetrics } from "./client.js";
import { makeDynamoDeadLetters } from "./dead-letters.js";
import { makeDynamoEventStore } from "./event-store.js";
import { makeDynamoReadModel } from "./read-model.js";
import { segmentItem } from "./sensor-item.js";
import { makeDynamoSensorStore } from "./sensor-store.js";
import { type DynamoStores, makeDynamoStores } from "./stores.js";
import {
  ensureTables,
  PATIENT_DEVICE_INDEX,
  PATIENT_TIMELINE_INDEX,
  type TableNames,
} from "./tables.js";

let client: DynamoDBClient;
let tables: TableNames;
let stores: DynamoStores;
let drop: () => Promise<void>;

beforeAll(async () => {
  ({ client, tables, drop } = await testTables(inject("dynamoEndpoint")));
  stores = makeDynamoStores({ client, tables });
});
afterAll(() => drop());

describe("tables", () => {
  it("have the keys, indexes, stream and TTL of the design, and ensureTables is idempotent", async () => {
    await ensureTables(client, tables);
    const mapping = (await client.send(new DescribeTableCommand({ TableName: tables.mapping })))
      .Table;
    expect(mapping?.KeySchema).toEqual([
      { AttributeName: "device_id", KeyType: "HASH" },
      { AttributeName: "assignment_timestamp", KeyType: "RANGE" },
    ]);
    expect(
      mapping?.GlobalSecondaryIndexes?.map((i) => [
        i.IndexName,
        i.KeySchema?.map((k) => k.AttributeName),
      ]),
    ).toEqual([[PATIENT_DEVICE_INDEX, ["patient_id", "assignment_timestamp"]]]);
    const sensor = (await client.send(new DescribeTableCommand({ TableName: tables.sensor })))
      .Table;
    expect(
      sensor?.GlobalSecondaryIndexes?.map((i) => [
        i.IndexName,
        i.KeySchema?.map((k) => k.AttributeName),
      ]),
    ).toEqual([[PATIENT_TIMELINE_INDEX, ["patient_id", "timestamp"]]]);
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: tables.sensor }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe("ttl");
    const events = (await client.send(new DescribeTableCommand({ TableName: tables.events })))
      .Table;
    expect(events?.StreamSpecification?.StreamEnabled).toBe(true);
    // Activity in AWS reads the sensor table's stream, with both images.
    expect(sensor?.StreamSpecification?.StreamViewType).toBe("NEW_AND_OLD_IMAGES");
  });
});

eventStoreContract("DynamoDB", () => stores.events, { numRuns: 15, concurrency: 50 });
sensorStoreContract("DynamoDB", () => stores.sensors, { numRuns: 15 });
idempotencyKeysContract("DynamoDB", () => stores.idempotency);

const nurse = actor("nurse@clinic.example");
const run = <A, E>(e: Effect.Effect<A, E, EventStore>, events = stores.events) =>
  Effect.runPromise(Effect.either(Effect.provideService(e, EventStore, events)));

describe("DynamoDB event store", () => {
  it("writes the mapping rows in the historical shape, in the commit's transaction", async () => {
    const id = deviceId(`map-${Date.now()}`);
    await run(
      executeCommand({
        _tag: "AssignDevice",
        commandId: commandId("a"),
        deviceId: id,
        actor: nurse,
        patientId: patientId("P-77"),
        patientName: "Ada",
        notes: "wrist",
        at: epochMillis(T0),
        now: epochMillis(T0),
      }),
    );
    await run(
      executeCommand({
        _tag: "ReassignDevice",
        commandId: commandId("b"),
        deviceId: id,
        actor: nurse,
        patientId: patientId("P-78"),
        reason: "device_returned",
        at: epochMillis(T0 + 1000),
        now: epochMillis(T0 + 1000),
      }),
    );
    const rows = (
      await client.send(
        new QueryCommand({
          TableName: tables.mapping,
          KeyConditionExpression: "device_id = :d",
          ExpressionAttributeValues: { ":d": { S: id } },
        }),
      )
    ).Items?.map((i) => unmarshall(i));
    expect(rows).toEqual([
      {
        device_id: id,
        assignment_timestamp: T0,
        patient_id: "P-77",
        patient_name: "Ada",
        assigned_by: "nurse@clinic.example",
        status: "device_returned",
        notes: "wrist",
        assignment_end: T0 + 1000,
        ended_by: "nurse@clinic.example",
      },
      {
        device_id: id,
        assignment_timestamp: T0 + 1000,
        patient_id: "P-78",
        assigned_by: "nurse@clinic.example",
        status: "active",
      },
    ]);
    // A conflicting append writes neither the commit nor its rows.
    const conflicting = await Effect.runPromise(
      Effect.either(
        stores.events.append({
          deviceId: id,
          version: 2,
          commandId: commandId("c"),
          committedAt: epochMillis(T0 + 2000),
          events: [
            {
              _tag: "DeviceAssigned",
              deviceId: id,
              patientId: patientId("P-99"),
              assignedBy: nurse,
              at: epochMillis(T0 + 2000),
            },
          ],
        }),
      ),
    );
    expect(Either.isLeft(conflicting) && conflicting.left._tag).toBe("VersionConflict");
    const after = await client.send(
      new QueryCommand({
        TableName: tables.mapping,
        IndexName: PATIENT_DEVICE_INDEX,
        KeyConditionExpression: "patient_id = :p",
        ExpressionAttributeValues: { ":p": { S: "P-99" } },
      }),
    );
    expect(after.Items).toEqual([]);
  });

  it("a correction rewrites its row in the historical shape: retracted rows marked, a corrected patient moves in the patient index, an amended start moves the key", async () => {
    const id = deviceId(`fix-${Date.now()}`);
    const charge = actor("charge@clinic.example");
    const h = (hours: number) => epochMillis(T0 + hours * 3_600_000);
    const ok = async (c: Parameters<typeof executeCommand>[0]) =>
      expect(Either.isRight(await run(executeCommand(c)))).toBe(true);
    const base = { deviceId: id, actor: nurse };
    await ok({
      _tag: "AssignDevice",
      ...base,
      commandId: commandId("a"),
      patientId: patientId("P-1"),
      at: h(0),
      now: h(0),
    });
    await ok({
      _tag: "ReassignDevice",
      ...base,
      commandId: commandId("b"),
      patientId: patientId("P-2"),
      reason: "completed",
      at: h(2),
      now: h(2),
    });
    await ok({
      _tag: "ReassignDevice",
      ...base,
      commandId: commandId("c"),
      patientId: patientId("P-3"),
      reason: "completed",
      at: h(4),
      now: h(4),
    });
    const fix = { deviceId: id, actor: charge, now: h(5), note: "seen on the ward round" };
    // P-2's assignment was entered in error; P-3's was really P-4's; P-1 wore it until 03:00.
    await ok({
      _tag: "RetractAssignment",
      ...fix,
      commandId: commandId("d"),
      start: h(2),
      reason: "not_worn",
    });
    await ok({
      _tag: "CorrectAssignmentPatient",
      ...fix,
      commandId: commandId("e"),
      start: h(4),
      reason: "wrong_patient",
      patientId: patientId("P-4"),
    });
    await ok({
      _tag: "AmendAssignmentPeriod",
      ...fix,
      commandId: commandId("f"),
      start: h(0),
      newEnd: h(3),
      reason: "wrong_time",
    });
    // P-4's started at 03:00, not 04:00.
    await ok({
      _tag: "AmendAssignmentPeriod",
      ...fix,
      commandId: commandId("g"),
      start: h(4),
      newStart: h(3),
      reason: "wrong_time",
    });
    const rows = (
      await client.send(
        new QueryCommand({
          TableName: tables.mapping,
          KeyConditionExpression: "device_id = :d",
          ExpressionAttributeValues: { ":d": { S: id } },
        }),
      )
    ).Items?.map((i) => unmarshall(i));
    const stamp = (reason: string) => ({
      corrected_by: "charge@clinic.example",
      corrected_at: h(5),
      correction_reason: reason,
      correction_note: "seen on the ward round",
    });
    expect(rows).toEqual([
      {
        device_id: id,
        assignment_timestamp: h(0),
        patient_id: "P-1",
        assigned_by: "nurse@clinic.example",
        assignment_end: h(3),
        ended_by: "nurse@clinic.example",
        status: "completed",
        ...stamp("wrong_time"),
      },
      {
        device_id: id,
        assignment_timestamp: h(2),
        patient_id: "P-2",
        assigned_by: "nurse@clinic.example",
        assignment_end: h(4),
        ended_by: "nurse@clinic.example",
        status: "entered_in_error",
        ...stamp("not_worn"),
      },
      {
        device_id: id,
        assignment_timestamp: h(3),
        patient_id: "P-4",
        assigned_by: "nurse@clinic.example",
        status: "active",
        ...stamp("wrong_time"),
      },
    ]);
    const byPatient = async (p: string) =>
      (
        await client.send(
          new QueryCommand({
            TableName: tables.mapping,
            IndexName: PATIENT_DEVICE_INDEX,
            KeyConditionExpression: "patient_id = :p",
            ExpressionAttributeValues: { ":p": { S: p } },
          }),
        )
      ).Items?.filter((i) => i.device_id?.S === id).length;
    expect([await byPatient("P-3"), await byPatient("P-4")]).toEqual([0, 1]);
    const readModel = makeDynamoReadModel({ client, tables });
    expect(await Effect.runPromise(readModel.currentAssignment(id))).toMatchObject({
      patientId: "P-4",
      start: h(3),
    });
    // Retracting the current one: the newest row is entered in error, so nobody wears the device.
    await ok({
      _tag: "RetractAssignment",
      ...fix,
      now: h(6),
      commandId: commandId("h"),
      start: h(3),
      reason: "duplicate",
    });
    expect(await Effect.runPromise(readModel.currentAssignment(id))).toBeNull();
  });

  it("the read model equals the mapping rows of the log after random command sequences, corrections included", async () => {
    const readModel = makeDynamoReadModel({ client, tables });
    await fc.assert(
      fc.asyncProperty(fc.oneof(scenario, clinicDays), async ({ patients, steps }) => {
        const devices: Array<DeviceId> = [
          deviceId(`rm-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`),
        ];
        for (const c of commandsFrom(devices, patients, steps)) await run(executeCommand(c));
        const log = eventsOf((await Effect.runPromise(stores.events.load(devices[0]!))).commits);
        // The corrected intervals, and the retracted rows marked (never deleted).
        const rows = mappingRowsOf(log);
        expect(await Effect.runPromise(readModel.deviceIntervals(devices[0]!))).toEqual(rows);
        for (const p of new Set(rows.map((r) => r.patientId)))
          expect(
            (await Effect.runPromise(readModel.patientIntervals(p))).filter(
              (r) => r.deviceId === devices[0],
            ),
          ).toEqual(patientDeviceHistory(rows, p));
        const last = intervalsOf(log).at(-1);
        expect(await Effect.runPromise(readModel.currentAssignment(devices[0]!))).toEqual(
          last && last.end === null ? last : null,
        );
      }),
      { numRuns: 10 },
    );
  });

  it("loads streams longer than one Query page", async () => {
    const small = makeDynamoEventStore({ client, tables, pageSize: 2 });
    const id = deviceId(`paged-${Date.now()}`);
    for (let k = 0; k < 7; k++) {
      const command =
        k % 2 === 0
          ? {
              _tag: "AssignDevice" as const,
              commandId: commandId(`p${k}`),
              deviceId: id,
              actor: nurse,
              patientId: patientId(`P${k}`),
              at: epochMillis(T0 + k * 10),
              now: epochMillis(T0 + k * 10),
            }
          : {
              _tag: "ReturnDevice" as const,
              commandId: commandId(`p${k}`),
              deviceId: id,
              actor: nurse,
              at: epochMillis(T0 + k * 10),
              now: epochMillis(T0 + k * 10),
            };
      expect(Either.isRight(await run(executeCommand(command), small))).toBe(true);
    }
    const stream = await Effect.runPromise(small.load(id));
    expect(stream.version).toBe(7);
    expect(stream.commits.map((c) => c.commandId)).toEqual([
      "p0",
      "p1",
      "p2",
      "p3",
      "p4",
      "p5",
      "p6",
    ]);
  });
});

describe("DynamoDB sensor store", () => {
  it("a 10-sample item is well under 1 KB (one write unit)", () => {
    const [segment] = [
      {
        deviceId: deviceId("medusa-pi-0001"),
        patientId: patientId("P-000123"),
        patientName: "A patient name",
        assignmentStart: epochMillis(T0),
        key: segmentKey([{ timestamp: epochMillis(T0), sequence: 123_456 }]),
        attributedVersion: 12,
        ttl: 1_800_000_000,
        samples: Array.from({ length: 10 }, (_, i) => ({
          timestamp: epochMillis(T0 + i * 100),
          sequence: 123_456 + i,
          x: -0.0234,
          y: 0.1172,
          z: 0.9766,
          magnitude: 0.997,
        })),
      },
    ];
    const bytes = Object.entries(segmentItem(segment!)).reduce(
      (n, [k, v]) => n + k.length + JSON.stringify(v).length,
      0,
    );
    expect(bytes).toBeLessThan(700);
  });

  /**
   * A client that passes everything to DynamoDB Local except that it leaves
   * some items of each BatchWriteItem unprocessed, as DynamoDB does when it
   * throttles: `unprocessed(call, requests)` picks them, or returns an error
   * to throw instead (nothing of that call is written), as DynamoDB does when
   * it throttles the whole request.
   */
  /** A clock that stands still except when the store backs off, by `step` ms a time. */
  const steppingClock = (step: number) => {
    let t = 0;
    return {
      now: () => t,
      sleep: async () => {
        t += step;
        await new Promise((r) => setImmediate(r));
      },
    };
  };
  const throttling = (
    unprocessed: (
      call: number,
      requests: ReadonlyArray<WriteRequest>,
    ) => Array<WriteRequest> | Error,
  ) => {
    const calls: Array<number> = [];
    let last: Array<WriteRequest> = [];
    const send = async (command: unknown) => {
      if (!(command instanceof BatchWriteItemCommand))
        return client.send(command as PutItemCommand);
      const requests = command.input.RequestItems?.[tables.sensor] ?? [];
      calls.push(requests.length);
      if (requests.length > 25) throw new Error("BatchWriteItem takes at most 25 requests");
      const outcome = unprocessed(calls.length, requests);
      if (outcome instanceof Error) {
        last = [...requests];
        throw outcome;
      }
      last = outcome;
      const processed = requests.filter((r) => !last.includes(r));
      if (processed.length > 0)
        await client.send(
          new BatchWriteItemCommand({ RequestItems: { [tables.sensor]: processed } }),
        );
      return { UnprocessedItems: last.length > 0 ? { [tables.sensor]: last } : {} };
    };
    return { client: { send } as unknown as DynamoDBClient, calls, lastUnprocessed: () => last };
  };
  /** What the SDK throws once its own retries of a throttled request are spent. */
  const exceeded = () =>
    new ProvisionedThroughputExceededException({
      message: "The level of configured provisioned throughput for the table was exceeded.",
      $metadata: { httpStatusCode: 400 },
    });
  const oneSampleSegments = (id: DeviceId, n: number) =>
    Array.from({ length: n }, (_, k) => ({
      deviceId: id,
      patientId: "UNASSIGNED" as const,
      patientName: null,
      assignmentStart: null,
      key: segmentKey([{ timestamp: epochMillis(T0 + k * 1000), sequence: k }]),
      attributedVersion: 0,
      ttl: Math.ceil(Date.now() / 1000) + 86_400,
      samples: [
        { timestamp: epochMillis(T0 + k * 1000), sequence: k, x: 0, y: 0, z: 1, magnitude: 1 },
      ],
    }));
  const storedKeys = async (id: DeviceId) =>
    (
      await Effect.runPromise(
        makeDynamoSensorStore({ client, tables }).deviceSegments(id, {
          start: T0,
          end: T0 + 600_000,
        }),
      )
    ).map((s) => s.key);

  /** A sensor store on a throttling client: jitter pinned to its maximum, the backoff's sleeps recorded, not slept. */
  const storeOn = (flaky: ReturnType<typeof throttling>) => {
    const sleeps: Array<number> = [];
    const store = makeDynamoSensorStore({
      client: flaky.client,
      tables,
      sleep: async (ms) => void sleeps.push(ms),
      random: () => 1,
    });
    return { store, sleeps };
  };

  // Re-attribution's writes (`replace`) go 25 to a BatchWriteItem; the ingest's are conditional PutItems (below).
  it("writes 25 per call and retries unprocessed items with exponential backoff until done", async () => {
    // The first three calls each leave their first 10 requests unprocessed.
    const flaky = throttling((call, requests) => (call <= 3 ? requests.slice(0, 10) : []));
    const { store, sleeps } = storeOn(flaky);
    const id = deviceId(`retry-${Date.now()}`);
    await Effect.runPromise(store.replace(id, [], oneSampleSegments(id, 60)));
    // 60 → 25 + 25 + 10; then the 30 left over (10 + 10 + 10) in 25 + 5; nothing after.
    expect(flaky.calls).toEqual([25, 25, 10, 25, 5]);
    // Jitter pinned to its maximum: the delays double (50 · 2^attempt).
    expect(sleeps).toEqual([100]);
    expect((await storedKeys(id)).length).toBe(60);

    const slow = throttling((call, requests) => (call <= 4 ? requests.slice(0, 1) : []));
    const { store: patient, sleeps: delays } = storeOn(slow);
    const other = deviceId(`backoff-${Date.now()}`);
    await Effect.runPromise(patient.replace(other, [], oneSampleSegments(other, 3)));
    expect(slow.calls).toEqual([3, 1, 1, 1, 1]);
    expect(delays).toEqual([100, 200, 400, 800]);
    expect((await storedKeys(other)).length).toBe(3);
  });

  it("after the deadline it reports exactly the items left unprocessed, and stored the rest", async () => {
    // Every call leaves its first and last request unprocessed, forever.
    const flaky = throttling((_, requests) =>
      requests.length > 1 ? [requests[0]!, requests.at(-1)!] : [...requests],
    );
    const store = makeDynamoSensorStore({
      client: flaky.client,
      tables,
      writeDeadlineMs: 200,
      ...steppingClock(20),
    });
    const id = deviceId(`flaky-${Date.now()}`);
    const r = await Effect.runPromise(
      Effect.either(store.replace(id, [], oneSampleSegments(id, 30))),
    );
    expect(Either.isLeft(r) && r.left._tag).toBe("SegmentsNotWritten");
    const failed = Either.isLeft(r) && r.left._tag === "SegmentsNotWritten" ? r.left.failed : [];
    const left = flaky
      .lastUnprocessed()
      .map((w) => unmarshall(w.PutRequest!.Item!))
      .map((item) => ({ deviceId: item.device_id, key: item.timestamp }));
    expect(failed).toEqual(left);
    const stored = await storedKeys(id);
    expect(stored.length + failed.length).toBe(30);
    for (const f of failed) expect(stored).not.toContain(f.key);
    expect(flaky.calls.length).toBeGreaterThan(2);
  });

  it("a throttled request is retried with the same backoff until it is written", async () => {
    // The first two calls (the whole first round) are refused as throttled.
    const flaky = throttling((call) => (call <= 2 ? exceeded() : []));
    const { store, sleeps } = storeOn(flaky);
    const id = deviceId(`throttled-${Date.now()}`);
    await Effect.runPromise(store.replace(id, [], oneSampleSegments(id, 30)));
    expect(flaky.calls).toEqual([25, 5, 25, 5]);
    expect(sleeps).toEqual([100]);
    expect((await storedKeys(id)).length).toBe(30);
  });

  it("throttled until the deadline, it reports exactly the items not written; other errors fail at once", async () => {
    // The first call leaves its first request unprocessed; every later call is throttled.
    const flaky = throttling((call, requests) => (call === 1 ? [requests[0]!] : exceeded()));
    const store = makeDynamoSensorStore({
      client: flaky.client,
      tables,
      writeDeadlineMs: 100,
      // The deadline runs on the store's clock, which only the backoff moves: a busy machine
      // cannot make the calls themselves eat the deadline.
      ...steppingClock(10),
    });
    const id = deviceId(`throttled-out-${Date.now()}`);
    const segments = oneSampleSegments(id, 60);
    const r = await Effect.runPromise(Effect.either(store.replace(id, [], segments)));
    expect(Either.isLeft(r) && r.left._tag).toBe("SegmentsNotWritten");
    if (Either.isLeft(r) && r.left._tag === "SegmentsNotWritten") {
      expect(r.left.failed).toEqual(
        [segments[0]!, ...segments.slice(25)].map((s) => ({
          deviceId: id,
          key: s.key,
        })),
      );
      expect(r.left.reason).toContain("throttled");
      expect(r.left.reason).toContain("ProvisionedThroughputExceededException");
    }
    expect(await storedKeys(id)).toEqual(segments.slice(1, 25).map((s) => s.key));
    expect(flaky.calls.length).toBeGreaterThan(3);

    const broken = throttling(() =>
      Object.assign(new Error("no such table"), { name: "ResourceNotFoundException" }),
    );
    const failing = makeDynamoSensorStore({ client: broken.client, tables, sleep: async () => {} });
    const e = await Effect.runPromise(
      Effect.either(
        failing.replace(deviceId(`broken-x`), [], oneSampleSegments(deviceId(`broken-x`), 30)),
      ),
    );
    expect(Either.isLeft(e) && e.left._tag).toBe("StorageUnavailable");
    expect(broken.calls).toEqual([25]);
  });

  it("the ingest's conditional writes: a throttled PutItem is retried until the deadline, then names exactly the items left", async () => {
    const id = deviceId(`put-throttled-${Date.now()}`);
    const segments = oneSampleSegments(id, 5);
    let throttle = 3;
    const puts: Array<number> = [];
    const send = async (command: unknown) => {
      if (command instanceof PutItemCommand) {
        puts.push(Number(command.input.Item?.timestamp?.N));
        // The first three PutItems, and every one of the last segment, are throttled.
        if (throttle-- > 0 || Number(command.input.Item?.timestamp?.N) === segments[4]!.key)
          throw exceeded();
      }
      return client.send(command as PutItemCommand);
    };
    const store = makeDynamoSensorStore({
      client: { send } as unknown as DynamoDBClient,
      tables,
      writeDeadlineMs: 100,
      ...steppingClock(5),
    });
    const r = await Effect.runPromise(Effect.either(store.write(segments)));
    expect(Either.isLeft(r) && r.left._tag === "SegmentsNotWritten" && r.left.failed).toEqual([
      { deviceId: id, key: segments[4]!.key },
    ]);
    expect(await storedKeys(id)).toEqual(segments.slice(0, 4).map((s) => s.key));
    expect(puts.length).toBeGreaterThan(8);
    // Written again when DynamoDB lets it: the four stored are unchanged, the fifth written.
    throttle = 0;
    const plain = makeDynamoSensorStore({ client, tables });
    expect(await Effect.runPromise(plain.write(segments))).toEqual([
      "unchanged",
      "unchanged",
      "unchanged",
      "unchanged",
      "written",
    ]);
  });

  it("an expired item stays readable until the TTL sweeper gets to it (the README's claim about DynamoDB Local)", async () => {
    const id = `ttl-${Date.now()}`;
    const ttl = Math.floor(Date.now() / 1000) - 3_600;
    await client.send(
      new PutItemCommand({
        TableName: tables.sensor,
        Item: marshall({ device_id: id, timestamp: T0, ttl, samples: "x" }),
      }),
    );
    await new Promise((r) => setTimeout(r, 5_000));
    const read = await client.send(
      new QueryCommand({
        TableName: tables.sensor,
        KeyConditionExpression: "device_id = :d",
        ExpressionAttributeValues: { ":d": { S: id } },
        ConsistentRead: true,
      }),
    );
    expect(read.Items?.map((i) => unmarshall(i).ttl)).toEqual([ttl]);
  });

  it("samples nobody wore stay out of the patient index (sparse), and enter it when attributed", async () => {
    // A client of its own, so the meter counts this test's requests only.
    const metered = makeDynamoClient({
      endpoint: inject("dynamoEndpoint"),
      region: "local",
      credentials: localCredentials,
    });
    const meter = withUsageMetrics(metered);
    const store = makeDynamoSensorStore({ client: metered, tables });
    const id = deviceId(`sparse-${Date.now()}`);
    const [unassigned] = oneSampleSegments(id, 1);
    await Effect.runPromise(store.write([unassigned!]));
    // One write unit: the item only, no index entry.
    expect(meter.snapshot().writeUnits).toBe(1);
    const raw = await client.send(
      new QueryCommand({
        TableName: tables.sensor,
        KeyConditionExpression: "device_id = :d",
        ExpressionAttributeValues: { ":d": { S: id } },
      }),
    );
    expect(raw.Items?.map((i) => unmarshall(i).patient_id)).toEqual([undefined]);
    const indexed = async (patient: string) =>
      (
        await client.send(
          new QueryCommand({
            TableName: tables.sensor,
            IndexName: PATIENT_TIMELINE_INDEX,
            KeyConditionExpression: "patient_id = :p",
            ExpressionAttributeValues: { ":p": { S: patient } },
          }),
        )
      ).Items?.map((i) => unmarshall(i).device_id);
    expect(await indexed("UNASSIGNED")).toEqual([]);
    const [back] = await Effect.runPromise(
      store.deviceSegments(id, { start: T0, end: T0 + 1_000 }),
    );
    expect(back?.patientId).toBe("UNASSIGNED");
    // Re-attributed to a patient: now in the index.
    const patient = `P-sparse-${Date.now()}`;
    await Effect.runPromise(
      store.replace(
        id,
        [unassigned!.key],
        [{ ...unassigned!, patientId: patientId(patient), assignmentStart: epochMillis(T0) }],
      ),
    );
    expect(await indexed(patient)).toEqual([id]);
    // Items written before the index was sparse, with patient_id "UNASSIGNED", still read as nobody's.
    await client.send(
      new PutItemCommand({
        TableName: tables.sensor,
        Item: { ...segmentItem(unassigned!), patient_id: { S: "UNASSIGNED" } },
      }),
    );
    const [old] = await Effect.runPromise(store.deviceSegments(id, { start: T0, end: T0 + 1_000 }));
    expect(old?.patientId).toBe("UNASSIGNED");
    metered.destroy();
  });

  it("dead letters keep the raw payload, topic, client id, reason and time, newest first", async () => {
    const letters = makeDynamoDeadLetters({ client, tables });
    const now = Date.now();
    const letter = (k: number, payload: string, payloadEncoding: "utf8" | "base64") => ({
      receivedAt: epochMillis(now - 1_000 + k),
      source: "iot-rule",
      topic: "medusa/pi-1/sensor/data",
      clientId: k === 0 ? null : "pi-1",
      payload,
      payloadEncoding,
      reason: `reason ${k}`,
      issues: [{ path: "s[0][2]", message: "out of range" }],
    });
    await Effect.runPromise(letters.put(letter(0, "{not json", "utf8")));
    await Effect.runPromise(letters.put(letter(1, "//79", "base64")));
    const recent = await Effect.runPromise(letters.recent(2));
    expect(recent).toEqual([letter(1, "//79", "base64"), letter(0, "{not json", "utf8")]);
    // The same rejection stored again (a retried batch) overwrites: still two letters.
    await Effect.runPromise(letters.put(letter(1, "//79", "base64")));
    expect(await Effect.runPromise(letters.recent(10))).toHaveLength(2);
    // A payload larger than an item can hold keeps its head instead of failing the write.
    const huge = { ...letter(2, "x".repeat(500_000), "utf8"), reason: "too big" };
    await Effect.runPromise(letters.put(huge));
    const [newest] = await Effect.runPromise(letters.recent(1));
    expect(newest?.reason).toBe("too big");
    expect(newest?.payload.length).toBe(300_000);
  });

  it("the usage meter counts requests and capacity, GSI writes included", async () => {
    const meter = withUsageMetrics(client);
    const id = deviceId(`meter-${Date.now()}`);
    await client.send(
      new PutItemCommand({
        TableName: tables.sensor,
        Item: marshall({ device_id: id, timestamp: T0, patient_id: "P-1", samples: "x" }),
      }),
    );
    await client.send(
      new QueryCommand({
        TableName: tables.sensor,
        KeyConditionExpression: "device_id = :d",
        ExpressionAttributeValues: { ":d": { S: id } },
      }),
    );
    const snap = meter.snapshot();
    expect(snap.requests).toMatchObject({ PutItem: 1, Query: 1 });
    expect(snap.writeUnits).toBeGreaterThanOrEqual(2); // table + index
    expect(snap.readUnits).toBeGreaterThan(0);
    meter.reset();
    expect(meter.snapshot().totalRequests).toBe(0);
  });
});
