import { type RememberingDeviceStatuses, rememberingDeviceStatuses } from "@medusa/adapters";
import type { Aedes, AedesPublishPacket, BrokerClient } from "@medusa/adapters/broker";
import {
  AlertNotifier,
  type Alerts,
  assignmentCommitChange,
  type Clock,
  type Commit,
  type DataGapEvent,
  DEFAULT_GAP_MS,
  type DeadLetters,
  DeviceId,
  type DeviceStatusChanges,
  DeviceStatuses,
  detectDataGaps,
  type GapDetectorReport,
  PRESENCE_TOPIC_FILTER,
  type PresenceOutcome,
  presenceChange,
  reportedStateChange,
  type SampleTimeChange,
  type SensorStore,
  type StatusChange,
  saveStatusChangesOfDevices,
  topicMatches,
} from "@medusa/domain";
import { Cause, Effect, Either, type ManagedRuntime, Schema } from "effect";
import type { StackLog } from "./log.js";
import { startStatusUpdates } from "./status-updates.js";

/** Every classic shadow's documents after an accepted update (what the AWS rule selects too). */
const SHADOW_DOCUMENTS_FILTER = "$aws/things/+/shadow/update/documents";

type Ports = DeviceStatuses | Alerts | SensorStore | DeadLetters | Clock;

export interface FleetStatusOptions {
  readonly aedes: Aedes;
  readonly runtime: ManagedRuntime.ManagedRuntime<Ports, never>;
  /** The stack's own MQTT clients (cloud services, not devices): their lifecycle events are not a device's. */
  readonly serviceIdentities: ReadonlyArray<string>;
  /** How long an assigned device may send no sample before it has a data gap (default 10 min). */
  readonly gapMs?: number;
  /** How often the gap detector runs (default: a tenth of the gap time, between 1 s and 30 s). */
  readonly checkEveryMs?: number;
  readonly log: StackLog;
  /** Called with each recorded lifecycle event's outcome (for lag measurements). */
  readonly onPresence?: (outcome: PresenceOutcome, receivedAt: number) => void;
  /** Called with every gap opened or closed, when it is announced. */
  readonly onAlert?: (event: DataGapEvent) => void;
  /** Saves of status rows running at the same time at most (default 4; see `status-updates.ts`). */
  readonly statusConcurrency?: number;
  /** Devices whose rows go in one save at most (default 25: one request to DynamoDB). */
  readonly devicesPerStatusSave?: number;
  /**
   * How long a shadow's reported summary may wait to be saved with its
   * device's other changes (default 5 s; connects and assignments go at once).
   */
  readonly reportedWaitMs?: number;
  /**
   * How long a sample time may wait to be saved with its device's other
   * changes (default 5 s: the fleet list's last sample is up to a minute
   * old anyway, and the gap detector reads the samples themselves).
   */
  readonly sampleTimeWaitMs?: number;
}

export interface FleetStatus {
  /** The in-process stand-in for the events table's stream: who wears a device, for its status. */
  readonly onCommit: (commit: Commit) => void;
  /**
   * Queues the ingest's sample-time changes (`sampleTimeChanges`) with each
   * device's other status changes; each is told `saved` once it is.
   */
  readonly saveSampleTimes: (changes: ReadonlyArray<SampleTimeChange>) => void;
  /** One gap detector pass now (the timer runs them too; passes never overlap). */
  readonly detectNow: () => Promise<GapDetectorReport>;
  /** Every gap announced so far, oldest first (the log also has them). */
  readonly announced: () => ReadonlyArray<DataGapEvent>;
  readonly gapMs: number;
  /** How often the gap detector runs. */
  readonly checkEveryMs: number;
  readonly stop: () => Promise<void>;
}

/**
 * What the AWS side of presence and data gaps does, in process. The IoT rule
 * `SELECT * FROM '$aws/events/presence/+/+'` and its handler: every lifecycle
 * event the broker publishes goes to `recordPresence` (the stack's own service
 * clients are not devices, and are left out). The shadow rule: each classic
 * shadow's `update/documents` goes to `recordReportedState` (the reported
 * summary the fleet view shows). The events table's stream: each
 * commit updates who wears the device. The EventBridge schedule: the gap
 * detector (`detectDataGaps`) every `checkEveryMs`; its SNS topic is the log
 * here (`component: "alerts"`), one line per gap opened or closed.
 */
export const startFleetStatus = (options: FleetStatusOptions): FleetStatus => {
  const { runtime, log } = options;
  const gapMs = options.gapMs ?? DEFAULT_GAP_MS;
  const checkEveryMs = options.checkEveryMs ?? Math.min(30_000, Math.max(1_000, gapMs / 10));
  const services = new Set(options.serviceIdentities);
  const pending = new Set<Promise<unknown>>();
  const announced: Array<DataGapEvent> = [];
  let stopped = false;

  const track = <A>(p: Promise<A>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
    return p;
  };
  const run = <A, E>(what: string, effect: Effect.Effect<A, E, Ports>) =>
    track(
      runtime.runPromise(
        effect.pipe(
          Effect.catchAllCause((cause) =>
            Effect.sync(() => {
              log({ level: "error", msg: `${what} failed`, error: String(Cause.squash(cause)) });
              return undefined;
            }),
          ),
        ),
      ),
    );

  // This process saves every change of the statuses (presence, shadow, commits, the ingest's
  // sample times), so it remembers the rows, loaded at the start: a save is one write, not a
  // read and a write — in a boot storm too, when every device's row is saved at once.
  let remembered: RememberingDeviceStatuses | undefined;
  const rememberedRows = Effect.map(DeviceStatuses, (store) => {
    remembered ??= rememberingDeviceStatuses(store);
    return remembered;
  });
  void run(
    "loading the device statuses",
    Effect.flatMap(rememberedRows, (rows) => rows.load),
  );
  const saveRemembering = (devices: ReadonlyArray<DeviceStatusChanges>) =>
    Effect.flatMap(rememberedRows, (rows) =>
      Effect.provideService(saveStatusChangesOfDevices(devices), DeviceStatuses, rows),
    );
  // Each device's changes in order, those that arrive together saved together, and the
  // devices due saved a few dozen at a time (one request for all their rows).
  const updates = startStatusUpdates<DeviceId, StatusChange, "changed" | "unchanged">({
    save: async (devices) => {
      const saved = await run("device statuses", saveRemembering(devices));
      return saved?.map((result, k) => {
        if (Either.isRight(result)) return result.right;
        log({
          level: "error",
          msg: "device status failed",
          device_id: devices[k]?.deviceId,
          error: String(result.left),
        });
        return undefined;
      });
    },
    concurrency: options.statusConcurrency ?? 4,
    devicesPerSave: options.devicesPerStatusSave ?? 25,
  });
  const submit = (deviceId: DeviceId, change: StatusChange, waitMs = 0) =>
    track(updates.submit(deviceId, change, waitMs));
  const reportedWaitMs = options.reportedWaitMs ?? 5_000;
  const sampleTimeWaitMs = options.sampleTimeWaitMs ?? 5_000;

  /** The shadow service's `update/documents` of a classic shadow: its reported state into the device's status. */
  const onShadowDocuments = (topic: string, payload: Buffer) => {
    const thing = topic.split("/")[2] ?? "";
    let documents: { current?: { state?: { reported?: unknown }; version?: unknown } };
    try {
      documents = JSON.parse(payload.toString("utf8"));
    } catch {
      return;
    }
    const version = documents.current?.version;
    const deviceId = Schema.decodeUnknownEither(DeviceId)(thing);
    if (typeof version !== "number" || Either.isLeft(deviceId) || services.has(thing)) return;
    void submit(
      deviceId.right,
      reportedStateChange(version, documents.current?.state?.reported ?? null),
      reportedWaitMs,
    );
  };

  const onPublish = (packet: AedesPublishPacket, client: BrokerClient | null) => {
    // The broker's own publishes (client null): lifecycle events and the shadow service's
    // documents come from it, never from a client.
    if (client !== null || stopped) return;
    if (topicMatches(SHADOW_DOCUMENTS_FILTER, packet.topic))
      return onShadowDocuments(packet.topic, Buffer.from(packet.payload));
    if (!topicMatches(PRESENCE_TOPIC_FILTER, packet.topic)) return;
    const clientId = packet.topic.slice(packet.topic.lastIndexOf("/") + 1);
    if (services.has(clientId)) return;
    const receivedAt = Date.now();
    const read = run(
      "presence",
      presenceChange(
        { topic: packet.topic, payload: Buffer.from(packet.payload) },
        { source: "presence" },
      ),
    );
    void track(
      read.then(async (read) => {
        if (read === undefined) return;
        if (read._tag === "Rejected")
          log({ level: "warn", msg: "lifecycle event refused", reason: read.reason });
        if (read._tag !== "Change") return options.onPresence?.(read, receivedAt);
        const changed = await submit(read.deviceId, read.change);
        if (changed !== undefined)
          options.onPresence?.(
            { _tag: "Recorded", deviceId: read.deviceId, changed: changed === "changed" },
            receivedAt,
          );
      }),
    );
  };
  options.aedes.on("publish", onPublish);

  const notifier = {
    notify: (event: DataGapEvent) =>
      Effect.sync(() => {
        announced.push(event);
        log({
          level: event._tag === "DataGapOpened" ? "warn" : "info",
          msg: event._tag === "DataGapOpened" ? "data gap: no samples" : "data gap closed",
          alert_id: event.alertId,
          device_id: event.deviceId,
          patient_id: event.patientId,
          since: event.since,
          ...(event._tag === "DataGapClosed" ? { reason: event.reason } : {}),
        });
        options.onAlert?.(event);
      }),
  };
  let passing: Promise<GapDetectorReport> | null = null;
  const empty: GapDetectorReport = { checked: 0, opened: [], closed: [], notDelivered: [] };
  const detectNow = (): Promise<GapDetectorReport> => {
    if (passing) return passing;
    passing = run(
      "gap detector",
      detectDataGaps({ gapMs }).pipe(Effect.provideService(AlertNotifier, notifier)),
    )
      .then((report) => report ?? empty)
      .finally(() => {
        passing = null;
      });
    return passing;
  };
  const timer = setInterval(() => {
    if (!stopped) void detectNow();
  }, checkEveryMs);
  timer.unref();

  return {
    onCommit: (commit) => {
      if (!stopped) void submit(commit.deviceId, assignmentCommitChange(commit));
    },
    saveSampleTimes: (changes) => {
      if (stopped) return;
      for (const { deviceId, change, saved } of changes)
        void submit(deviceId, change, sampleTimeWaitMs).then((outcome) => {
          if (outcome !== undefined) saved();
        });
    },
    detectNow,
    announced: () => [...announced],
    gapMs,
    checkEveryMs,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      options.aedes.removeListener("publish", onPublish);
      // Changes waiting for company are saved now, not lost with the process.
      updates.flush();
      await Promise.allSettled([...pending]);
    },
  };
};
