import { clockFrom, storesLayer } from "@medusa/adapters";
import { makeInMemoryStores } from "@medusa/adapters/testing";
import {
  AlertNotDelivered,
  actor,
  commandId,
  type DataGapEvent,
  DeviceStatuses,
  deviceId,
  epochMillis,
  patientId,
  recordAssignmentCommit,
} from "@medusa/domain";
import { Effect, Layer } from "effect";
import { expect, it } from "vitest";
import { servicesLayer } from "../services.js";
import { gapDetectorHandler, gapSettingsFromEnv, presenceHandler } from "./fleet.js";

const T = 1_764_400_000_000;

it("the presence rule's event (the event's fields and topic()) reaches the device's status; a bad one is a dead letter", async () => {
  const stores = makeInMemoryStores();
  const handle = presenceHandler(servicesLayer(storesLayer(stores), { cacheTtlMs: 1_000 }));
  const event = {
    clientId: "pi-1",
    timestamp: T,
    eventType: "connected",
    sessionIdentifier: "a4666d2a7d844ae4ac5d7b38c9cb7967",
    principalIdentifier: "12345678901234567890123456789012",
    ipAddress: "192.0.2.0",
    versionNumber: 0,
    topic: "$aws/events/presence/connected/pi-1",
  };
  expect(await handle(event)).toMatchObject({ _tag: "Recorded", changed: true });
  const row = await Effect.runPromise(stores.deviceStatuses.get(deviceId("pi-1")));
  expect(row?.status.lastConnect).toMatchObject({ versionNumber: 0, ipAddress: "192.0.2.0" });
  expect(await handle({ ...event, topic: "$aws/events/presence/connected/other" })).toMatchObject({
    _tag: "Rejected",
  });
  expect(stores.deadLetters.all()).toMatchObject([
    { source: "iot-rule", reason: "lifecycle event does not match its topic" },
  ]);
});

it("the shadow rule's event (reported state, shadow version, thing name) becomes the status's reported summary; a bad one is refused", async () => {
  const stores = makeInMemoryStores();
  const handle = presenceHandler(servicesLayer(storesLayer(stores), { cacheTtlMs: 1_000 }));
  const event = {
    thing_name: "pi-1",
    shadow_version: 4,
    reported: { agent: { version: "1.4.0" }, publish: { interval_ms: 2000 } },
  };
  expect(await handle(event)).toMatchObject({ _tag: "Recorded", changed: true });
  const row = await Effect.runPromise(stores.deviceStatuses.get(deviceId("pi-1")));
  expect(row?.status.reported).toEqual({
    shadow_version: 4,
    agent_version: "1.4.0",
    publish_interval_ms: 2000,
  });
  // Delivered again, or an older version: nothing changes.
  expect(await handle({ ...event, shadow_version: 3 })).toMatchObject({ changed: false });
  expect(await handle({ ...event, thing_name: "not a thing/" })).toMatchObject({
    _tag: "Rejected",
  });
});

it("the scheduled detector announces a gap on the topic and keeps it; one not announced is not kept", async () => {
  const stores = makeInMemoryStores();
  let now = T;
  const layer = servicesLayer(storesLayer(stores), {
    cacheTtlMs: 1_000,
    clock: clockFrom(() => now),
  });
  await Effect.runPromise(
    Effect.provide(
      recordAssignmentCommit({
        deviceId: deviceId("pi-1"),
        version: 1,
        commandId: commandId("c1"),
        committedAt: epochMillis(T),
        events: [
          {
            _tag: "DeviceAssigned",
            deviceId: deviceId("pi-1"),
            patientId: patientId("P-1"),
            assignedBy: actor("n@c.example"),
            at: epochMillis(T),
          },
        ],
      }),
      Layer.succeed(DeviceStatuses, stores.deviceStatuses),
    ),
  );
  const sent: Array<DataGapEvent> = [];
  let down = true;
  const detect = gapDetectorHandler(
    layer,
    {
      notify: (e) =>
        down
          ? Effect.fail(new AlertNotDelivered({ alertId: e.alertId, reason: "SNS down" }))
          : Effect.sync(() => void sent.push(e)),
    },
    { gapMs: 60_000 },
  );
  now = T + 61_000;
  expect(await detect()).toMatchObject({ opened: [], notDelivered: 1 });
  down = false;
  expect(await detect()).toMatchObject({
    opened: [{ deviceId: "pi-1", patientId: "P-1", since: T }],
  });
  expect(sent).toHaveLength(1);
  expect(stores.alerts.all()).toHaveLength(1);
});

it("settings: the gap time in minutes (10 by default); the topic is required", () => {
  expect(gapSettingsFromEnv({ MEDUSA_ALERT_TOPIC_ARN: "arn:aws:sns:eu-central-1:1:a" })).toEqual({
    gapMs: 600_000,
    topicArn: "arn:aws:sns:eu-central-1:1:a",
  });
  expect(gapSettingsFromEnv({ MEDUSA_ALERT_TOPIC_ARN: "x", MEDUSA_GAP_MINUTES: "1" }).gapMs).toBe(
    60_000,
  );
  expect(() => gapSettingsFromEnv({ MEDUSA_GAP_MINUTES: "1" })).toThrow(/MEDUSA_ALERT_TOPIC_ARN/);
  expect(() =>
    gapSettingsFromEnv({ MEDUSA_ALERT_TOPIC_ARN: "x", MEDUSA_GAP_MINUTES: "-1" }),
  ).toThrow(/MEDUSA_GAP_MINUTES/);
});
