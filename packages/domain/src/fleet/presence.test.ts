import { Arbitrary, Either } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { actor, commandId, deviceId, epochMillis, patientId } from "../ids.js";
import type { Commit } from "../ports/event-store.js";
import {
  applyAssignmentCommit,
  applyPresence,
  applyReported,
  type FleetDeviceStatus,
  initialDeviceStatus,
  isConnected,
  lastSeenAt,
  reportedSummary,
} from "./device-status.js";
import {
  type DeviceConnected,
  type DeviceDisconnected,
  decodePresenceMessage,
  PresenceEvent,
  presenceMessageFromRuleEvent,
  presenceTopic,
} from "./presence.js";

// AWS's documented examples (developer guide, "Lifecycle events", connect/disconnect).
const connectedExample = {
  clientId: "186b5",
  timestamp: 1573002230757,
  eventType: "connected",
  sessionIdentifier: "a4666d2a7d844ae4ac5d7b38c9cb7967",
  principalIdentifier: "12345678901234567890123456789012",
  ipAddress: "192.0.2.0",
  versionNumber: 0,
};
const disconnectedExample = {
  clientId: "186b5",
  timestamp: 1573002340451,
  eventType: "disconnected",
  sessionIdentifier: "a4666d2a7d844ae4ac5d7b38c9cb7967",
  principalIdentifier: "12345678901234567890123456789012",
  clientInitiatedDisconnect: true,
  disconnectReason: "CLIENT_INITIATED_DISCONNECT",
  versionNumber: 0,
};

describe("lifecycle events: decoding", () => {
  it("takes AWS's documented connect and disconnect messages, as bytes, text or a rule's JSON", () => {
    for (const example of [connectedExample, disconnectedExample]) {
      const topic = presenceTopic(example.eventType as "connected", example.clientId);
      const json = JSON.stringify(example);
      for (const payload of [json, new TextEncoder().encode(json), example]) {
        const decoded = decodePresenceMessage({ topic, payload });
        expect(Either.getOrThrow(decoded)).toEqual(example);
      }
      // As an IoT rule delivers it: the event's fields and topic().
      const ruled = decodePresenceMessage(presenceMessageFromRuleEvent({ ...example, topic }));
      expect(Either.getOrThrow(ruled)).toEqual(example);
    }
  });

  it("ignores fields AWS may add, and takes a disconnect reason it does not list yet", () => {
    const decoded = decodePresenceMessage({
      topic: "$aws/events/presence/disconnected/186b5",
      payload: { ...disconnectedExample, disconnectReason: "SOME_NEW_REASON", brandNew: 1 },
    });
    expect(Either.getOrThrow(decoded)).toMatchObject({ disconnectReason: "SOME_NEW_REASON" });
    expect(Either.getOrThrow(decoded)).not.toHaveProperty("brandNew");
  });

  it("refuses, naming the reason: not JSON, not an object, a missing field, another topic, a client id that is no device id", () => {
    const cases: Array<[unknown, string | null, RegExp]> = [
      ["{nope", null, /not JSON/],
      ["[1]", null, /JSON object/],
      [{ ...connectedExample, sessionIdentifier: undefined }, null, /invalid lifecycle event/],
      [{ ...connectedExample, timestamp: 1573002230.757 }, null, /invalid lifecycle event/],
      [{ ...disconnectedExample, clientInitiatedDisconnect: "yes" }, null, /invalid lifecycle/],
      [connectedExample, "$aws/events/presence/disconnected/186b5", /does not match its topic/],
      [connectedExample, "$aws/events/presence/connected/other", /does not match its topic/],
      [{ ...connectedExample, clientId: "a/b" }, null, /invalid lifecycle event/],
    ];
    for (const [payload, topic, reason] of cases) {
      const decoded = decodePresenceMessage({ topic, payload });
      expect(Either.isLeft(decoded), JSON.stringify(payload)).toBe(true);
      if (Either.isLeft(decoded)) expect(decoded.left.message).toMatch(reason);
    }
  });

  it("never throws, whatever arrives", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.anything(), fc.string(), Arbitrary.make(PresenceEvent)),
        fc.option(fc.string()),
        (payload, topic) => {
          decodePresenceMessage({ topic, payload });
        },
      ),
    );
  });
});

const device = deviceId("medusa-pi-01");
const MIN = 60_000;

/**
 * A client's real history: connections one after another, each a connect and
 * (but perhaps the last) a disconnect of one version; versions increase (with
 * skips), and go back to 0 after more than an hour without a connection, as
 * AWS's do. AWS stamps each event within ±2 minutes of when it happened.
 */
const history = fc
  .record({
    start: fc.integer({ min: 1_600_000_000_000, max: 1_900_000_000_000 }),
    connections: fc.array(
      fc.record({
        offlineBefore: fc.oneof(
          fc.integer({ min: 0, max: 50 * MIN }),
          fc.integer({ min: 61 * MIN, max: 48 * 60 * MIN }),
        ),
        duration: fc.integer({ min: 0, max: 12 * 60 * MIN }),
        versionStep: fc.integer({ min: 1, max: 3 }),
        jitter: fc.tuple(
          fc.integer({ min: -2 * MIN, max: 2 * MIN }),
          fc.integer({ min: -2 * MIN, max: 2 * MIN }),
        ),
        reason: fc.constantFrom(
          "CONNECTION_LOST",
          "CLIENT_INITIATED_DISCONNECT",
          "MQTT_KEEP_ALIVE_TIMEOUT",
        ),
      }),
      { minLength: 1, maxLength: 8 },
    ),
    lastStaysConnected: fc.boolean(),
  })
  .map(({ start, connections, lastStaysConnected }) => {
    const events: Array<DeviceConnected | DeviceDisconnected> = [];
    let t = start;
    let version = 0;
    connections.forEach((c, i) => {
      t += c.offlineBefore;
      version = i === 0 || c.offlineBefore > 60 * MIN ? 0 : version + c.versionStep;
      const common = {
        clientId: device,
        sessionIdentifier: `s-${i}`,
        principalIdentifier: "cert-hash",
        versionNumber: version,
      };
      events.push({
        ...common,
        eventType: "connected",
        timestamp: epochMillis(Math.max(0, t + c.jitter[0])),
        ipAddress: "127.0.0.1",
      });
      t += c.duration;
      if (i < connections.length - 1 || !lastStaysConnected)
        events.push({
          ...common,
          eventType: "disconnected",
          timestamp: epochMillis(Math.max(0, t + c.jitter[1])),
          clientInitiatedDisconnect: c.reason === "CLIENT_INITIATED_DISCONNECT",
          disconnectReason: c.reason,
        });
      // The next connection starts after this one ended, beyond AWS's ±2 min stamping.
      t += 5 * MIN;
    });
    return events;
  });

const fold = (events: ReadonlyArray<PresenceEvent>): FleetDeviceStatus =>
  events.reduce(applyPresence, initialDeviceStatus(device));

describe("device status: presence", () => {
  it("any order and any repetition of a history's events give the status of the history in order", () => {
    fc.assert(
      fc.property(
        history.chain((events) =>
          fc.tuple(
            fc.constant(events),
            fc.shuffledSubarray([...events, ...events], { minLength: 2 * events.length }),
          ),
        ),
        ([events, delivered]) => {
          const inOrder = fold(events);
          expect(fold(delivered)).toEqual(inOrder);
          const last = events[events.length - 1]!;
          expect(isConnected(inOrder)).toBe(last.eventType === "connected");
          expect(inOrder.lastConnect).toEqual(
            events.filter((e) => e.eventType === "connected").at(-1),
          );
        },
      ),
    );
  });

  it("a duplicate or an older event changes nothing: the same status object comes back", () => {
    fc.assert(
      fc.property(history, (events) => {
        const status = fold(events);
        for (const e of events) expect(applyPresence(status, e)).toBe(status);
      }),
    );
  });

  it("last seen: now while connected, else the disconnect's time; null for a device never seen", () => {
    const now = epochMillis(1573002999999);
    expect(lastSeenAt(initialDeviceStatus(device), now)).toBeNull();
    const c = { ...connectedExample, clientId: device } as DeviceConnected;
    const d = { ...disconnectedExample, clientId: device } as DeviceDisconnected;
    expect(lastSeenAt(fold([c]), now)).toBe(now);
    expect(lastSeenAt(fold([d, c]), now)).toBe(d.timestamp);
    // A reconnect within the same second, after a disconnect of the previous version.
    const again = { ...c, versionNumber: 1, timestamp: d.timestamp } as DeviceConnected;
    expect(isConnected(fold([again, d, c]))).toBe(true);
  });
});

describe("device status: assignments", () => {
  const by = actor("nurse@clinic.example");
  const t = (n: number) => epochMillis(1_731_622_400_000 + n * MIN);
  const commits: ReadonlyArray<Commit> = [
    {
      deviceId: device,
      version: 1,
      commandId: commandId("c1"),
      committedAt: t(0),
      events: [
        {
          _tag: "DeviceAssigned",
          deviceId: device,
          patientId: patientId("P-1"),
          assignedBy: by,
          at: t(0),
        },
      ],
    },
    {
      deviceId: device,
      version: 2,
      commandId: commandId("c2"),
      committedAt: t(10),
      events: [
        {
          _tag: "AssignmentEnded",
          deviceId: device,
          patientId: patientId("P-1"),
          start: t(0),
          endedBy: by,
          at: t(10),
          reason: "completed",
        },
        {
          _tag: "DeviceAssigned",
          deviceId: device,
          patientId: patientId("P-2"),
          patientName: "Second",
          assignedBy: by,
          at: t(10),
        },
      ],
    },
    {
      deviceId: device,
      version: 3,
      commandId: commandId("c3"),
      committedAt: t(20),
      events: [
        {
          _tag: "AssignmentEnded",
          deviceId: device,
          patientId: patientId("P-2"),
          start: t(10),
          endedBy: by,
          at: t(20),
          reason: "device_returned",
        },
      ],
    },
  ];

  it("who wears it is what the newest commit says, whatever order and repetition commits arrive in", () => {
    const afterEach = [1, 2, 3].map((n) =>
      commits.slice(0, n).reduce(applyAssignmentCommit, initialDeviceStatus(device)),
    );
    expect(afterEach.map((s) => s.assignment?.patientId ?? null)).toEqual(["P-1", "P-2", null]);
    expect(afterEach[1]?.assignment).toMatchObject({ patientName: "Second", start: t(10) });
    fc.assert(
      fc.property(fc.shuffledSubarray([...commits, ...commits], { minLength: 1 }), (delivered) => {
        const newest = Math.max(...delivered.map((c) => c.version));
        expect(delivered.reduce(applyAssignmentCommit, initialDeviceStatus(device))).toEqual(
          afterEach[newest - 1],
        );
      }),
    );
  });

  it("a commit of another device changes nothing", () => {
    const other = { ...commits[0]!, deviceId: deviceId("other") };
    const status = initialDeviceStatus(device);
    expect(applyAssignmentCommit(status, other)).toBe(status);
  });
});

describe("the reported shadow summary", () => {
  const report = {
    agent: { version: "1.4.0" },
    sensor: { model: "ADXL345", healthy: true, sample_rate_hz: 10 },
    publish: { interval_ms: 1000, effective_interval_ms: 1000, basic_ingest: false },
    outbox: { depth: 3, drops: 0 },
    reconnects: 2,
    uptime_s: 60,
    refused: [{ field: "sensor.sample_rate_hz", reason: "too high" }],
    timestamp: 1_764_400_000_000,
    memory: { used_mb: 12 },
  };

  it("keeps the plain values at the known paths, the count of refused settings and the shadow's version", () => {
    expect(reportedSummary(report, 7)).toEqual({
      shadow_version: 7,
      agent_version: "1.4.0",
      sensor_model: "ADXL345",
      sensor_healthy: true,
      sample_rate_hz: 10,
      publish_interval_ms: 1000,
      effective_interval_ms: 1000,
      basic_ingest: false,
      outbox_depth: 3,
      outbox_drops: 0,
      reconnects: 2,
      uptime_s: 60,
      reported_at: 1_764_400_000_000,
      refused_settings: 1,
    });
  });

  it("takes what it can from any report: objects, arrays and wrong types at a path are left out", () => {
    expect(
      reportedSummary({ agent: { version: { x: 1 } }, sensor: [1], uptime_s: "x" }, 1),
    ).toEqual({
      shadow_version: 1,
    });
    expect(reportedSummary(null, 0)).toEqual({ shadow_version: 0 });
  });

  it("an older or repeated shadow version changes nothing; a newer one replaces the summary", () => {
    const status = initialDeviceStatus(deviceId("pi-1"));
    const v2 = applyReported(status, reportedSummary(report, 2));
    expect(v2.reported?.shadow_version).toBe(2);
    expect(applyReported(v2, reportedSummary({}, 1))).toBe(v2);
    expect(applyReported(v2, reportedSummary({}, 2))).toBe(v2);
    expect(applyReported(v2, reportedSummary({}, 3)).reported).toEqual({ shadow_version: 3 });
  });
});
