import {
  applyPresence,
  applySampleTime,
  type DeviceId,
  DeviceStatuses,
  type DeviceStatusesService,
  decodePresenceMessage,
  deviceId,
  epochMillis,
  type FleetDeviceStatus,
  initialDeviceStatus,
  presenceTopic,
  reportedStateChange,
  type StatusChange,
  saveStatusChanges,
} from "@medusa/domain";
import { Effect, Either } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { makeInMemoryDeviceStatuses } from "./memory/device-statuses.js";
import { rememberingDeviceStatuses } from "./remembered-statuses.js";
import { countedDeviceStatuses } from "./testing/counted-statuses.js";
import { deviceStatusesContract } from "./testing/fleet-contract.js";

const T = 1_764_400_000_000;
const pi = deviceId("medusa-pi-01");

const remembered = rememberingDeviceStatuses(makeInMemoryDeviceStatuses());
deviceStatusesContract("remembered, over the in-memory store", () => remembered);

const save = (
  store: DeviceStatusesService,
  changes: ReadonlyArray<StatusChange>,
  device: DeviceId = pi,
) =>
  Effect.runPromise(
    Effect.provideService(saveStatusChanges(device, changes), DeviceStatuses, store),
  );

const lifecycle = (
  eventType: "connected" | "disconnected",
  version: number,
  t: number,
  device: DeviceId = pi,
) => {
  const decoded = decodePresenceMessage({
    topic: presenceTopic(eventType, device),
    payload: JSON.stringify({
      clientId: device,
      timestamp: t,
      eventType,
      sessionIdentifier: `s-${version}`,
      principalIdentifier: "cert",
      ipAddress: "127.0.0.1",
      versionNumber: version,
      ...(eventType === "disconnected"
        ? { clientInitiatedDisconnect: false, disconnectReason: "CONNECTION_LOST" }
        : {}),
    }),
  });
  if (Either.isLeft(decoded)) throw new Error(decoded.left.reason);
  const event = decoded.right;
  return (s: FleetDeviceStatus) => applyPresence(s, event);
};

describe("a device-status store that remembers its rows", () => {
  it("saves a row's later changes with one write each and no read", async () => {
    const { calls, service } = countedDeviceStatuses(makeInMemoryDeviceStatuses());
    const store = rememberingDeviceStatuses(service);
    await save(store, [lifecycle("connected", 1, T)]);
    await save(store, [reportedStateChange(3, { agent: { version: "0.3.0" } })]);
    await save(store, [lifecycle("disconnected", 1, T + 5_000)]);
    expect(calls).toEqual({ get: 1, save: 3 });
    expect((await Effect.runPromise(service.get(pi)))?.revision).toBe(3);
  });

  it("a row another process saved since: told it changed, it reads the row again and keeps both changes", async () => {
    const { calls, service } = countedDeviceStatuses(makeInMemoryDeviceStatuses());
    const store = rememberingDeviceStatuses(service);
    await save(store, [lifecycle("connected", 1, T)]);
    // Another process (the API, a second Lambda) saves the same row behind its back.
    await save(service, [reportedStateChange(3, { agent: { version: "0.3.0" } })]);
    calls.get = 0;
    calls.save = 0;
    expect(await save(store, [lifecycle("disconnected", 1, T + 5_000)])).toEqual(["changed"]);
    expect(calls).toEqual({ get: 1, save: 2 });
    const row = await Effect.runPromise(service.get(pi));
    expect(row?.revision).toBe(3);
    expect(row?.status).toMatchObject({
      lastConnect: { timestamp: T },
      lastDisconnect: { timestamp: T + 5_000 },
      reported: { shadow_version: 3, agent_version: "0.3.0" },
    });
  });

  it("loaded, it knows the rows there are: a device's first save is one write and no read", async () => {
    const shared = makeInMemoryDeviceStatuses();
    const before = deviceId("medusa-pi-02");
    await save(shared, [lifecycle("connected", 1, T, before)], before);
    const { calls, service } = countedDeviceStatuses(shared);
    const store = rememberingDeviceStatuses(service);
    expect(await Effect.runPromise(store.load)).toBe(1);
    expect(await Effect.runPromise(store.get(before))).toEqual(
      await Effect.runPromise(shared.get(before)),
    );
    await save(store, [lifecycle("connected", 1, T)]);
    await save(store, [lifecycle("disconnected", 1, T + 1_000)]);
    expect(calls).toEqual({ get: 0, save: 2 });
    // A row another process made since the load: told it changed, read, saved with both.
    const other = deviceId("medusa-pi-03");
    await save(shared, [reportedStateChange(2, { agent: { version: "0.4.0" } })], other);
    expect(await save(store, [lifecycle("connected", 1, T, other)], other)).toEqual(["changed"]);
    expect((await Effect.runPromise(shared.get(other)))?.status).toMatchObject({
      reported: { shadow_version: 2, agent_version: "0.4.0" },
      lastConnect: { timestamp: T },
    });
  });

  it("holds at most its capacity of rows, forgetting the one taken in first", async () => {
    const { calls, service } = countedDeviceStatuses(makeInMemoryDeviceStatuses());
    const store = rememberingDeviceStatuses(service, 2);
    const devices = [1, 2, 3].map((n) => deviceId(`medusa-pi-0${n}`));
    for (const d of devices) await Effect.runPromise(store.save(initialDeviceStatus(d), 0));
    calls.get = 0;
    // The first was forgotten when the third came in: only it is read again.
    for (const d of [...devices].reverse()) await Effect.runPromise(store.get(d));
    expect(calls.get).toBe(1);
  });

  // Two processes write one row: one remembers (its memory goes stale at every write of the
  // other), one reads each time. Whatever the interleaving, the row ends as every change in
  // order gives it — the rules only move a row forward, so a change the stale row already
  // holds is held by the newer one too, and nothing is lost.
  it("no interleaving with another writer loses a change (property)", async () => {
    const change = fc.oneof(
      fc
        .tuple(
          fc.constantFrom("connected" as const, "disconnected" as const),
          fc.nat(5),
          fc.nat(20),
        )
        .map(([type, version, s]) => lifecycle(type, version, T + s * 1_000)),
      fc
        .tuple(fc.nat(8), fc.constantFrom("0.3.0", "0.4.0"))
        .map(([v, agent]) => reportedStateChange(v, { agent: { version: agent } })),
      fc
        .nat(600)
        .map((s) => (st: FleetDeviceStatus) => applySampleTime(st, epochMillis(T + s * 1_000))),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ change, byRemembering: fc.boolean(), together: fc.nat(2) }), {
          minLength: 1,
          maxLength: 30,
        }),
        async (steps) => {
          const shared = makeInMemoryDeviceStatuses();
          const remembering = rememberingDeviceStatuses(shared);
          let i = 0;
          while (i < steps.length) {
            const step = steps[i] as (typeof steps)[number];
            // A few changes saved together by one writer, as the stack's queue does.
            const batch = steps.slice(i, i + 1 + step.together).map((s) => s.change);
            await save(step.byRemembering ? remembering : shared, batch);
            i += batch.length;
          }
          const expected = steps.reduce((s, step) => step.change(s), initialDeviceStatus(pi));
          expect(
            (await Effect.runPromise(shared.get(pi)))?.status ?? initialDeviceStatus(pi),
          ).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});
