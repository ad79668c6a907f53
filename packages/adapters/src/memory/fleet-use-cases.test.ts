import {
  AlertNotDelivered,
  AlertNotifier,
  Alerts,
  acknowledgeAlert,
  actor,
  applySampleTime,
  Clock,
  type Commit,
  commandId,
  type DataGapEvent,
  DeadLetters,
  DeviceStatuses,
  type DeviceStatusesService,
  detectDataGaps,
  deviceId,
  type EpochMillis,
  epochMillis,
  type FleetPage,
  fleetDevice,
  fleetDevices,
  type IngestOutcome,
  InvalidPayload,
  patientId,
  presenceChange,
  presenceTopic,
  recordAssignmentCommit,
  recordPresence,
  recordSampleTimes,
  reportedStateChange,
  SAMPLE_TIME_STEP_MS,
  SensorStore,
  type StatusChange,
  saveStatusChanges,
  saveStatusChangesOfDevices,
  segmentKey,
} from "@medusa/domain";
import { sampleAt } from "@medusa/domain/testing";
import { Effect, Either, Layer } from "effect";
import { describe, expect, it } from "vitest";
import { SampleTimesSeen } from "../sample-times-seen.js";
import { countedDeviceStatuses } from "../testing/counted-statuses.js";
import { makeInMemoryAlerts } from "./alerts.js";
import { makeInMemoryDeadLetters } from "./dead-letters.js";
import { makeInMemoryDeviceStatuses } from "./device-statuses.js";
import { makeInMemorySensorStore } from "./sensor-store.js";

const T = 1_764_400_000_000;
const MIN = 60_000;
const pi = deviceId("medusa-pi-01");

/** The fleet's ports in memory, a settable clock, and a notifier that records (or refuses). */
const world = (wrapStatuses: (s: DeviceStatusesService) => DeviceStatusesService = (s) => s) => {
  let now = T;
  let refuse = false;
  const announced: Array<DataGapEvent> = [];
  const statuses = wrapStatuses(makeInMemoryDeviceStatuses());
  const alerts = makeInMemoryAlerts();
  const sensors = makeInMemorySensorStore();
  const deadLetters = makeInMemoryDeadLetters();
  const layer = Layer.mergeAll(
    Layer.succeed(DeviceStatuses, statuses),
    Layer.succeed(Alerts, alerts),
    Layer.succeed(SensorStore, sensors),
    Layer.succeed(DeadLetters, deadLetters),
    Layer.succeed(Clock, { now: Effect.sync(() => epochMillis(now)) }),
    Layer.succeed(AlertNotifier, {
      notify: (event) =>
        refuse
          ? Effect.fail(new AlertNotDelivered({ alertId: event.alertId, reason: "topic down" }))
          : Effect.sync(() => void announced.push(event)),
    }),
  );
  return {
    run: <A, E>(
      e: Effect.Effect<
        A,
        E,
        DeviceStatuses | Alerts | SensorStore | DeadLetters | Clock | AlertNotifier
      >,
    ) => Effect.runPromise(Effect.provide(e, layer)),
    at: (t: number) => {
      now = t;
    },
    refuse: (r: boolean) => {
      refuse = r;
    },
    announced,
    alerts,
    sensors,
    deadLetters,
  };
};

const connected = (version: number, t: number) => ({
  topic: presenceTopic("connected", pi),
  payload: JSON.stringify({
    clientId: pi,
    timestamp: t,
    eventType: "connected",
    sessionIdentifier: `s-${version}`,
    principalIdentifier: "cert",
    ipAddress: "127.0.0.1",
    versionNumber: version,
  }),
});
const disconnected = (version: number, t: number) => ({
  topic: presenceTopic("disconnected", pi),
  payload: JSON.stringify({
    clientId: pi,
    timestamp: t,
    eventType: "disconnected",
    sessionIdentifier: `s-${version}`,
    principalIdentifier: "cert",
    clientInitiatedDisconnect: false,
    disconnectReason: "CONNECTION_LOST",
    versionNumber: version,
  }),
});

const assigned = (version: number, at: number, patient = "P-001", device = pi): Commit => ({
  deviceId: device,
  version,
  commandId: commandId(`c-${version}`),
  committedAt: epochMillis(at),
  events: [
    {
      _tag: "DeviceAssigned",
      deviceId: device,
      patientId: patientId(patient),
      assignedBy: actor("nurse@clinic.example"),
      at: epochMillis(at),
    },
  ],
});

const samplesAt = (w: ReturnType<typeof world>, t: number, seq: number) => {
  const samples = [sampleAt(t, seq)];
  return w.run(
    Effect.flatMap(SensorStore, (s) =>
      s.write([
        {
          deviceId: pi,
          patientId: patientId("P-001"),
          patientName: null,
          assignmentStart: epochMillis(T),
          samples,
          key: segmentKey(samples),
          attributedVersion: 1,
          ttl: Math.ceil(t / 1000) + 86_400,
        },
      ]),
    ),
  );
};

describe("presence into the device status", () => {
  it("a claim connection (a device provisioning itself) is no device: no status, no dead letter", async () => {
    const w = world();
    const claim = JSON.parse(connected(1, T).payload);
    const event = {
      topic: "$aws/events/presence/connected/provision-00000000a1b2c3d4",
      payload: JSON.stringify({ ...claim, clientId: "provision-00000000a1b2c3d4" }),
    };
    expect(await w.run(recordPresence(event, { source: "presence" }))).toEqual({
      _tag: "NotADevice",
      clientId: "provision-00000000a1b2c3d4",
    });
    expect((await w.run(fleetDevices({ limit: 10 }))).devices).toEqual([]);
    expect(await w.run(Effect.flatMap(DeadLetters, (d) => d.recent(10)))).toEqual([]);
    // The bare prefix is no claim connection's (a claim client id carries a serial).
    const bare = {
      topic: "$aws/events/presence/connected/provision-",
      payload: JSON.stringify({ ...claim, clientId: "provision-" }),
    };
    expect(await w.run(recordPresence(bare, { source: "presence" }))).toMatchObject({
      _tag: "Recorded",
    });
  });

  it("a connect, its duplicate, the disconnect arriving first: the status says what happened last", async () => {
    const w = world();
    const source = { source: "presence" };
    expect(await w.run(recordPresence(disconnected(3, T + 5_000), source))).toMatchObject({
      _tag: "Recorded",
      changed: true,
    });
    expect(await w.run(recordPresence(connected(3, T), source))).toMatchObject({ changed: true });
    expect(await w.run(recordPresence(connected(3, T), source))).toMatchObject({ changed: false });
    const view = await w.run(fleetDevice(pi));
    expect(view).toMatchObject({ connected: false, lastSeenAt: T + 5_000, lastSampleAt: null });
    await w.run(recordPresence(connected(4, T + 6_000), source));
    expect(await w.run(fleetDevice(pi))).toMatchObject({ connected: true, lastSeenAt: T });
  });

  it("what is not a lifecycle event is kept as a dead letter with the reason, never lost", async () => {
    const w = world();
    const out = await w.run(
      recordPresence(
        { topic: presenceTopic("connected", pi), payload: "{not json" },
        { source: "presence" },
      ),
    );
    expect(out).toMatchObject({ _tag: "Rejected" });
    expect(w.deadLetters.all()).toMatchObject([
      { source: "presence", payload: "{not json", reason: "payload is not JSON" },
    ]);
  });

  it("events of one device recorded at once, interleaved: the row ends as the events in order give it", async () => {
    // Every read yields, so concurrent updates read the same revision and must retry.
    const w = world((s) => ({ ...s, get: (d) => Effect.zipRight(Effect.yieldNow(), s.get(d)) }));
    const events = Array.from({ length: 12 }, (_, i) =>
      i % 2 === 0 ? connected(i, T + i * 1_000) : disconnected(i - 1, T + i * 1_000),
    );
    await w.run(
      Effect.forEach(events, (e) => recordPresence(e, { source: "presence" }), {
        concurrency: "unbounded",
      }),
    );
    const view = await w.run(fleetDevice(pi));
    expect(view.status.lastDisconnect?.timestamp).toBe(T + 11_000);
    expect(view.status.lastConnect?.timestamp).toBe(T + 10_000);
    expect(view.connected).toBe(false);
  });
});

describe("several changes of one device saved together", () => {
  it("one read and one write for all, each change's own outcome, the row as the changes one by one give it", async () => {
    let counted: ReturnType<typeof countedDeviceStatuses> | undefined;
    const w = world((s) => {
      counted = countedDeviceStatuses(s);
      return counted.service;
    });
    if (counted === undefined) throw new Error("the world made no device-status store");
    const { calls } = counted;
    const source = { source: "presence" };
    const change = async (m: ReturnType<typeof connected>): Promise<StatusChange> => {
      const read = await w.run(presenceChange(m, source));
      if (read._tag !== "Change") throw new Error(`no change: ${read._tag}`);
      return read.change;
    };
    const changes = [
      await change(connected(3, T)),
      reportedStateChange(7, { agent: { version: "0.3.0" }, sensor: { sample_rate_hz: 10 } }),
      await change(connected(3, T)), // its duplicate: changes nothing
      await change(disconnected(3, T + 5_000)),
    ];
    expect(await w.run(saveStatusChanges(pi, changes))).toEqual([
      "changed",
      "changed",
      "unchanged",
      "changed",
    ]);
    expect(calls).toEqual({ get: 1, save: 1 });
    const together = (await w.run(fleetDevice(pi))).status;
    // The same changes saved one at a time, on another world: the same row.
    const apart = world();
    for (const c of changes) await apart.run(saveStatusChanges(pi, [c]));
    expect((await apart.run(fleetDevice(pi))).status).toEqual(together);
    expect(together).toMatchObject({
      lastConnect: { timestamp: T },
      lastDisconnect: { timestamp: T + 5_000 },
      reported: { shadow_version: 7, agent_version: "0.3.0", sample_rate_hz: 10 },
    });
    // Nothing new: a read, no write.
    calls.get = 0;
    calls.save = 0;
    expect(await w.run(saveStatusChanges(pi, changes))).toEqual([
      "unchanged",
      "unchanged",
      "unchanged",
      "unchanged",
    ]);
    expect(calls).toEqual({ get: 1, save: 0 });
  });
});

describe("several devices' changes saved together", () => {
  it("one request for all their rows; a row another process saved meanwhile decided again on its fresh read", async () => {
    const store = makeInMemoryDeviceStatuses();
    const [d2, d3] = [deviceId("medusa-pi-02"), deviceId("medusa-pi-03")];
    const requests: Array<ReadonlyArray<string>> = [];
    let raced = false;
    const statuses: DeviceStatusesService = {
      ...store,
      get: (d) =>
        Effect.tap(store.get(d), () =>
          // Another process saves d3's row right after this one read it, once.
          d !== d3 || raced
            ? Effect.void
            : Effect.flatMap(
                Effect.sync(() => {
                  raced = true;
                }),
                () =>
                  Effect.asVoid(
                    saveStatusChanges(d3, [(st) => applySampleTime(st, epochMillis(T))]).pipe(
                      Effect.provideService(DeviceStatuses, store),
                    ),
                  ),
              ),
        ),
      saveAll: (rows) =>
        Effect.zipRight(
          Effect.sync(() => void requests.push(rows.map((r) => r.status.deviceId))),
          store.saveAll(rows),
        ),
    };
    const reported = (version: number) =>
      reportedStateChange(version, { agent: { version: `0.${version}.0` } });
    const results = await Effect.runPromise(
      saveStatusChangesOfDevices([
        { deviceId: pi, changes: [reported(1)] },
        { deviceId: d2, changes: [reported(1), reported(2)] },
        { deviceId: d3, changes: [reported(3)] },
      ]).pipe(Effect.provideService(DeviceStatuses, statuses)),
    );
    expect(results.map((r) => (Either.isRight(r) ? r.right : r.left._tag))).toEqual([
      ["changed"],
      ["changed", "changed"],
      ["changed"],
    ]);
    expect(requests).toEqual([[pi, d2, d3], [d3]]);
    const row = await Effect.runPromise(store.get(d3));
    expect(row?.revision).toBe(2);
    expect(row?.status).toMatchObject({
      lastSampleAt: T,
      reported: { shadow_version: 3, agent_version: "0.3.0" },
    });
  });
});

describe("the gap detector", () => {
  it("raises an alert for an assigned device silent for the gap time, announces it, and clears it when data resumes", async () => {
    const w = world();
    await w.run(recordAssignmentCommit(assigned(1, T)));
    await samplesAt(w, T + MIN, 0);
    w.at(T + 10 * MIN);
    expect((await w.run(detectDataGaps())).opened).toEqual([]);
    w.at(T + 11 * MIN);
    const pass = await w.run(detectDataGaps());
    expect(pass).toMatchObject({ checked: 1, closed: [], notDelivered: [] });
    expect(pass.opened).toMatchObject([{ deviceId: pi, patientId: "P-001", since: T + MIN }]);
    expect(w.announced).toEqual(pass.opened);
    // Again: nothing new.
    expect(await w.run(detectDataGaps())).toMatchObject({ opened: [], closed: [] });
    const open = await w.run(fleetDevices({ limit: 10, filter: "alert" }));
    expect(open.devices.map((d) => d.status.deviceId)).toEqual([pi]);
    const alertId = pass.opened[0]!.alertId;
    const acked = await w.run(acknowledgeAlert(alertId, actor("doc@clinic.example")));
    expect(acked).toMatchObject({ acknowledgedBy: "doc@clinic.example", closedAt: null });

    await samplesAt(w, T + 12 * MIN, 1);
    w.at(T + 12 * MIN + 1_000);
    const resumed = await w.run(detectDataGaps());
    expect(resumed.closed).toMatchObject([{ alertId, reason: "data-resumed" }]);
    expect(w.announced.at(-1)).toMatchObject({ _tag: "DataGapClosed", alertId });
    expect((await w.run(fleetDevices({ limit: 10, filter: "alert" }))).devices).toEqual([]);
    expect((await w.run(fleetDevice(pi))).recentAlerts).toMatchObject([
      { id: alertId, closeReason: "data-resumed", acknowledgedBy: "doc@clinic.example" },
    ]);
  });

  it("an alert that could not be announced is not kept, and is found and announced on the next pass", async () => {
    const w = world();
    await w.run(recordAssignmentCommit(assigned(1, T)));
    w.at(T + 10 * MIN);
    w.refuse(true);
    const failed = await w.run(detectDataGaps());
    expect(failed).toMatchObject({ opened: [], notDelivered: [{ reason: "topic down" }] });
    expect(w.alerts.all()).toEqual([]);
    w.refuse(false);
    w.at(T + 11 * MIN);
    const next = await w.run(detectDataGaps());
    expect(next.opened).toMatchObject([{ since: T, raisedAt: T + 11 * MIN }]);
  });

  it("ending the assignment closes the alert; an unassigned device never raises one; the gap time is a setting", async () => {
    const w = world();
    await w.run(recordAssignmentCommit(assigned(1, T)));
    w.at(T + MIN);
    expect((await w.run(detectDataGaps({ gapMs: MIN }))).opened).toHaveLength(1);
    const ended: Commit = {
      deviceId: pi,
      version: 2,
      commandId: commandId("c-2"),
      committedAt: epochMillis(T + 2 * MIN),
      events: [
        {
          _tag: "AssignmentEnded",
          deviceId: pi,
          patientId: patientId("P-001"),
          start: epochMillis(T),
          endedBy: actor("nurse@clinic.example"),
          at: epochMillis(T + 2 * MIN),
          reason: "device_returned",
        },
      ],
    };
    await w.run(recordAssignmentCommit(ended));
    w.at(T + 60 * MIN);
    const pass = await w.run(detectDataGaps({ gapMs: MIN }));
    expect(pass).toMatchObject({ opened: [], closed: [{ reason: "assignment-ended" }] });
    expect((await w.run(detectDataGaps({ gapMs: MIN }))).checked).toBe(0);
  });
});

describe("the fleet view", () => {
  it("pages through every device once, and filters by available, assigned, offline, alert", async () => {
    const w = world();
    const ids = Array.from({ length: 9 }, (_, i) => deviceId(`sim-${i}`));
    for (const [i, d] of ids.entries()) {
      await w.run(
        recordPresence(
          {
            topic: presenceTopic("connected", d),
            payload: {
              clientId: d,
              timestamp: T,
              eventType: "connected",
              sessionIdentifier: "s",
              principalIdentifier: "p",
              versionNumber: 0,
            },
          },
          { source: "presence" },
        ),
      );
      if (i % 3 === 0) await w.run(recordAssignmentCommit(assigned(1, T, "P-001", d)));
    }
    const all: Array<string> = [];
    let cursor: string | null = null;
    do {
      const page: FleetPage = await w.run(
        fleetDevices({ limit: 4, ...(cursor !== null ? { cursor } : {}) }),
      );
      expect(page.devices.length).toBeLessThanOrEqual(4);
      all.push(...page.devices.map((d) => d.status.deviceId));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(all.sort()).toEqual([...ids].sort());
    const assignedOnes = await w.run(fleetDevices({ limit: 50, filter: "assigned" }));
    expect(assignedOnes.devices.map((d) => d.status.deviceId).sort()).toEqual([
      "sim-0",
      "sim-3",
      "sim-6",
    ]);
    expect((await w.run(fleetDevices({ limit: 50, filter: "available" }))).devices).toHaveLength(6);
    expect((await w.run(fleetDevices({ limit: 50, filter: "offline" }))).devices).toHaveLength(0);
    const at: EpochMillis = epochMillis(T + 11 * MIN);
    w.at(at);
    await w.run(detectDataGaps());
    const alerting = await w.run(fleetDevices({ limit: 50, filter: "alert" }));
    expect(alerting.devices.map((d) => d.openAlerts.length)).toEqual([1, 1, 1]);
  });
});

describe("each device's newest sample time in its status row", () => {
  const stored = (device: typeof pi, ...times: Array<number>): IngestOutcome => ({
    _tag: "Stored",
    message: {
      deviceId: device,
      topic: `medusa/${device}/sensor`,
      clientId: device,
      receivedAt: epochMillis(Math.max(...times)),
      samples: times.map((t, i) => sampleAt(t, i)),
      format: "batch",
    },
    patientIds: ["UNASSIGNED"],
    segments: 1,
    written: 1,
  });

  it("is written when it moves on by a minute or more, not for every batch; older batches change nothing", async () => {
    let gets = 0;
    let saves = 0;
    const w = world((s) => ({
      ...s,
      get: (d) =>
        Effect.suspend(() => {
          gets++;
          return s.get(d);
        }),
      save: (status, r) =>
        Effect.suspend(() => {
          saves++;
          return s.save(status, r);
        }),
      saveAll: (rows) =>
        Effect.suspend(() => {
          saves += rows.length;
          return s.saveAll(rows);
        }),
    }));
    const other = deviceId("medusa-pi-02");
    expect(await w.run(recordSampleTimes([stored(pi, T, T + 900), stored(other, T + 5)]))).toBe(2);
    // A second's batches for a minute: no write until the time is a step ahead.
    let written = 0;
    for (let t = T + 1_000; t < T + SAMPLE_TIME_STEP_MS + 900; t += 1_000)
      written += await w.run(recordSampleTimes([stored(pi, t)]));
    expect(written).toBe(0);
    expect(await w.run(recordSampleTimes([stored(pi, T + 900 + SAMPLE_TIME_STEP_MS)]))).toBe(1);
    // A late batch (older samples) and a rejected message change nothing.
    expect(await w.run(recordSampleTimes([stored(pi, T - 10 * MIN)]))).toBe(0);
    expect(
      await w.run(
        recordSampleTimes([
          {
            _tag: "Rejected",
            rejection: new InvalidPayload({ reason: "not JSON", issues: [] }),
          },
        ]),
      ),
    ).toBe(0);
    const view = await w.run(fleetDevices({ limit: 10 }));
    expect(
      Object.fromEntries(view.devices.map((d) => [d.status.deviceId, d.lastSampleAt])),
    ).toEqual({ [pi]: T + 900 + SAMPLE_TIME_STEP_MS, [other]: T + 5 });
    expect(saves).toBe(3);
    // With the process's memory of what it recorded, a batch inside the step reads nothing either.
    const seen = new SampleTimesSeen();
    gets = 0;
    saves = 0;
    const base = T + 900 + SAMPLE_TIME_STEP_MS;
    for (let t = base + 1_000; t < base + 30_000; t += 1_000)
      await w.run(recordSampleTimes([stored(pi, t)], seen));
    // The first batch reads the row (this process had not seen the device), then nothing.
    expect({ gets, saves }).toEqual({ gets: 1, saves: 0 });
    await w.run(recordSampleTimes([stored(pi, base + SAMPLE_TIME_STEP_MS)], seen));
    expect({ gets, saves }).toEqual({ gets: 2, saves: 1 });
  });

  it("the fleet page reads the status rows and the open alerts only: no sensor table, one read for the page", async () => {
    const w = world();
    await w.run(recordSampleTimes([stored(pi, T + 42)]));
    await w.run(recordAssignmentCommit(assigned(1, T)));
    // Run without a sensor store at all: the fleet page does not need one.
    const statuses = makeInMemoryDeviceStatuses();
    const alerts = makeInMemoryAlerts();
    const layer = Layer.mergeAll(
      Layer.succeed(DeviceStatuses, statuses),
      Layer.succeed(Alerts, alerts),
      Layer.succeed(Clock, { now: Effect.succeed(epochMillis(T + MIN)) }),
    );
    await Effect.runPromise(Effect.provide(recordSampleTimes([stored(pi, T + 42)]), layer));
    const page = await Effect.runPromise(Effect.provide(fleetDevices({ limit: 10 }), layer));
    expect(page.devices.map((d) => [d.status.deviceId, d.lastSampleAt])).toEqual([[pi, T + 42]]);
    // One device's detail still reads its newest sample to the millisecond.
    await samplesAt(w, T + 70_123, 1);
    expect((await w.run(fleetDevice(pi))).lastSampleAt).toBe(T + 70_123);
  });

  it("the fleet page reads its open alerts and its first rows side by side", async () => {
    const statuses = makeInMemoryDeviceStatuses();
    const alerts = makeInMemoryAlerts();
    await Effect.runPromise(
      Effect.provide(
        recordAssignmentCommit(assigned(1, T)),
        Layer.succeed(DeviceStatuses, statuses),
      ),
    );
    // Each read starts, then waits until both have started: read one after the other, it never ends.
    const started: Array<string> = [];
    const bothStarted = Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          const check = () => (started.length >= 2 ? resolve() : setTimeout(check, 1));
          check();
        }),
    );
    const layer = Layer.mergeAll(
      Layer.succeed(DeviceStatuses, {
        ...statuses,
        list: (p) =>
          Effect.sync(() => void started.push("rows")).pipe(
            Effect.zipRight(bothStarted),
            Effect.zipRight(statuses.list(p)),
          ),
      }),
      Layer.succeed(Alerts, {
        ...alerts,
        listOpen: (p) =>
          Effect.sync(() => void started.push("alerts")).pipe(
            Effect.zipRight(bothStarted),
            Effect.zipRight(alerts.listOpen(p)),
          ),
      }),
      Layer.succeed(Clock, { now: Effect.succeed(epochMillis(T + MIN)) }),
    );
    const page = await Effect.runPromise(
      Effect.provide(fleetDevices({ limit: 10 }), layer).pipe(Effect.timeout("2 seconds")),
    );
    expect(page.devices.map((d) => d.status.deviceId)).toEqual([pi]);
    expect([...started].sort()).toEqual(["alerts", "rows"]);
  });
});
