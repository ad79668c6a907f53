// The fleet's use cases, kept in one module (over 350 lines) because they share
// the device-status rows: what changes a row (presence, shadow summaries, sample
// times, assignments) and the one way rows are saved (`saveStatusChangesOfDevices`),
// the gap detector that reads them, and the fleet views.
import { Effect, Either, Schema } from "effect";
import {
  type Alert,
  type AlertId,
  checkDataGap,
  type DataGapClosed,
  type DataGapEvent,
  type DataGapOpened,
  DEFAULT_GAP_MS,
  isOpen,
} from "../fleet/data-gap.js";
import {
  applyAssignmentCommit,
  applyPresence,
  applyReported,
  applySampleTime,
  type FleetDeviceStatus,
  initialDeviceStatus,
  isConnected,
  lastSeenAt,
  reportedSummary,
  SAMPLE_TIME_STEP_MS,
} from "../fleet/device-status.js";
import { decodePresenceMessage, type PresenceMessage } from "../fleet/presence.js";
import type { Actor, DeviceId, EpochMillis } from "../ids.js";
import {
  type AlertNotDelivered,
  type AlertNotFound,
  AlertNotifier,
  type AlertPage,
  Alerts,
} from "../ports/alerts.js";
import { Clock } from "../ports/clock.js";
import { DeadLetters } from "../ports/dead-letters.js";
import { DeviceStatuses, type DeviceStatusPage } from "../ports/device-statuses.js";
import type { Commit } from "../ports/event-store.js";
import { type InvalidCursor, SensorStore } from "../ports/sensor-store.js";
import { StorageUnavailable } from "../ports/storage.js";
import { isClaimClientId } from "../provisioning/topics.js";
import { rawPayload } from "../telemetry/json.js";
import type { IngestOutcome } from "./ingest.js";

/** How often a status update decides again when other saves of the same device keep coming first. */
const MAX_SAVE_ATTEMPTS = 8;

/** One change of a device's status, by the pure rules of `device-status.ts` (the same status back when it changes nothing). */
export type StatusChange = (status: FleetDeviceStatus) => FleetDeviceStatus;

/** The changes of one device to save (`saveStatusChangesOfDevices`). */
export interface DeviceStatusChanges {
  readonly deviceId: DeviceId;
  readonly changes: ReadonlyArray<StatusChange>;
}

/**
 * Applies `changes` in order to the device's row and saves the result with
 * one conditional write on the revision read; when another save came first,
 * decides again on the fresh row. The pure rules are order-free, so the row
 * ends as if the changes had come one by one (several changes of one device
 * that arrive together cost one read and one write, not one each). Answers,
 * change by change, whether it changed the status.
 */
export const saveStatusChanges = (
  deviceId: DeviceId,
  changes: ReadonlyArray<StatusChange>,
): Effect.Effect<ReadonlyArray<"changed" | "unchanged">, StorageUnavailable, DeviceStatuses> =>
  Effect.flatMap(saveStatusChangesOfDevices([{ deviceId, changes }]), ([saved]) =>
    saved === undefined ? Effect.dieMessage("no outcome for the device") : saved,
  );

/**
 * `saveStatusChanges` for several devices at once (distinct devices): their
 * rows read, changed and saved together (`DeviceStatuses.saveAll`: one
 * request where the store can), those another save came first to decided
 * again together. Answers, device by device, the outcome of each change, or
 * why its row could not be saved.
 */
export const saveStatusChangesOfDevices = (
  devices: ReadonlyArray<DeviceStatusChanges>,
): Effect.Effect<
  ReadonlyArray<Either.Either<ReadonlyArray<"changed" | "unchanged">, StorageUnavailable>>,
  StorageUnavailable,
  DeviceStatuses
> =>
  Effect.gen(function* () {
    const statuses = yield* DeviceStatuses;
    const results = new Map<number, ReadonlyArray<"changed" | "unchanged">>();
    let pending = devices.map((device, index) => ({ index, device }));
    for (let attempt = 0; attempt < MAX_SAVE_ATTEMPTS && pending.length > 0; attempt++) {
      // One device's row is read in line (no fiber between the read and the write, as before).
      const rows = yield* Effect.forEach(pending, ({ device }) => statuses.get(device.deviceId), {
        concurrency: pending.length === 1 ? 1 : 16,
      });
      const writes: Array<{
        readonly index: number;
        readonly device: DeviceStatusChanges;
        readonly status: FleetDeviceStatus;
        readonly expectedRevision: number;
        readonly outcomes: ReadonlyArray<"changed" | "unchanged">;
      }> = [];
      for (const [k, { index, device }] of pending.entries()) {
        const { deviceId, changes } = device;
        const row = rows[k] ?? null;
        const before = row?.status ?? initialDeviceStatus(deviceId);
        let after = before;
        const outcomes = changes.map((change) => {
          const next = change(after);
          const outcome = next === after ? ("unchanged" as const) : ("changed" as const);
          after = next;
          return outcome;
        });
        if (after === before) results.set(index, outcomes);
        else
          writes.push({
            index,
            device,
            status: after,
            expectedRevision: row?.revision ?? 0,
            outcomes,
          });
      }
      const saved =
        writes.length === 0
          ? []
          : yield* statuses.saveAll(
              writes.map(({ status, expectedRevision }) => ({ status, expectedRevision })),
            );
      pending = [];
      for (const [k, write] of writes.entries()) {
        if (saved[k] === "saved") results.set(write.index, write.outcomes);
        else pending.push({ index: write.index, device: write.device });
      }
    }
    return devices.map((device, i) => {
      const outcomes = results.get(i);
      return outcomes !== undefined
        ? Either.right(outcomes)
        : Either.left(
            new StorageUnavailable({
              store: "device statuses",
              operation: "save",
              reason: `the row of ${device.deviceId} changed ${MAX_SAVE_ATTEMPTS} times while it was being saved`,
            }),
          );
    });
  });

const updateStatus = (
  deviceId: DeviceId,
  change: StatusChange,
): Effect.Effect<"changed" | "unchanged", StorageUnavailable, DeviceStatuses> =>
  Effect.map(saveStatusChanges(deviceId, [change]), (outcomes) => outcomes[0] ?? "unchanged");

/** What became of one lifecycle message. */
export type PresenceOutcome =
  | { readonly _tag: "Recorded"; readonly deviceId: DeviceId; readonly changed: boolean }
  /** A claim connection's event (`provision-<serial>`): not a device yet, so no status. */
  | { readonly _tag: "NotADevice"; readonly clientId: string }
  | { readonly _tag: "Rejected"; readonly reason: string };

/** What one lifecycle message asks of the device statuses. */
export type PresenceChange =
  | { readonly _tag: "Change"; readonly deviceId: DeviceId; readonly change: StatusChange }
  /** A claim connection's event (`provision-<serial>`): not a device yet, so no status. */
  | { readonly _tag: "NotADevice"; readonly clientId: string }
  | { readonly _tag: "Rejected"; readonly reason: string };

/**
 * Reads one lifecycle message (`$aws/events/presence/...`): the change of
 * its device's status (duplicates and events older than what is held will
 * change nothing), or nothing for a claim connection (a device provisioning
 * itself, `provision-<serial>`); a message that is not a lifecycle event is
 * kept as a dead letter (`source`) with the reason.
 */
export const presenceChange = (
  message: PresenceMessage,
  options: { readonly source: string },
): Effect.Effect<PresenceChange, StorageUnavailable, DeadLetters | Clock> =>
  Effect.gen(function* () {
    const decoded = decodePresenceMessage(message);
    if (Either.isLeft(decoded)) {
      const rejection = decoded.left;
      yield* (yield* DeadLetters).put({
        receivedAt: yield* (yield* Clock).now,
        source: options.source,
        topic: message.topic,
        clientId: null,
        ...rawPayload(message.payload),
        reason: rejection.reason,
        issues: rejection.issues,
      });
      return { _tag: "Rejected" as const, reason: rejection.message };
    }
    const event = decoded.right;
    if (isClaimClientId(event.clientId))
      return { _tag: "NotADevice" as const, clientId: event.clientId };
    return {
      _tag: "Change" as const,
      deviceId: event.clientId,
      change: (s: FleetDeviceStatus) => applyPresence(s, event),
    };
  });

/**
 * Records one lifecycle message in the device's status (`presenceChange`,
 * saved at once).
 */
export const recordPresence = (
  message: PresenceMessage,
  options: { readonly source: string },
): Effect.Effect<PresenceOutcome, StorageUnavailable, DeviceStatuses | DeadLetters | Clock> =>
  Effect.gen(function* () {
    const read = yield* presenceChange(message, options);
    if (read._tag !== "Change") return read;
    const changed = yield* updateStatus(read.deviceId, read.change);
    return { _tag: "Recorded" as const, deviceId: read.deviceId, changed: changed === "changed" };
  });

/**
 * Records what a device's shadow reports (its `reported` state after an
 * accepted update, at the shadow's version) in the device's status, in short
 * (`reportedSummary`). An update older than the summary held changes nothing.
 */
export const recordReportedState = (
  deviceId: DeviceId,
  shadowVersion: number,
  reported: unknown,
): Effect.Effect<"changed" | "unchanged", StorageUnavailable, DeviceStatuses> =>
  updateStatus(deviceId, reportedStateChange(shadowVersion, reported));

/** The change `recordReportedState` saves: the shadow's `reported` state, in short, at its version. */
export const reportedStateChange =
  (shadowVersion: number, reported: unknown): StatusChange =>
  (s) =>
    applyReported(s, reportedSummary(reported, shadowVersion));

/** Records who wears the device after an assignment commit (redelivered or overtaken commits change nothing). */
export const recordAssignmentCommit = (
  commit: Commit,
): Effect.Effect<"changed" | "unchanged", StorageUnavailable, DeviceStatuses> =>
  updateStatus(commit.deviceId, assignmentCommitChange(commit));

/** The change `recordAssignmentCommit` saves. */
export const assignmentCommitChange =
  (commit: Commit): StatusChange =>
  (s) =>
    applyAssignmentCommit(s, commit);

/**
 * What an ingest process remembers of the sample times it recorded (one per
 * process: a Lambda container, the local stack; the adapters' `SampleTimesSeen`
 * is one): with it, a batch whose samples are not a step ahead of the time
 * held costs no read and no write.
 */
export interface SampleTimesMemory {
  /** The newest sample time this process recorded in the device's status row, if it holds one. */
  readonly recalled: (deviceId: DeviceId) => EpochMillis | undefined;
  /** The device's status row holds `at` now. */
  readonly remember: (deviceId: DeviceId, at: EpochMillis) => void;
}

/** One device's newest sample time as a status change, and what to remember once it is saved. */
export interface SampleTimeChange {
  readonly deviceId: DeviceId;
  readonly change: StatusChange;
  /** Call once the change is saved: the memory learns the time the row holds now. */
  readonly saved: () => void;
}

/**
 * The status changes the ingest's stored messages (`outcomes`) ask: each
 * device's newest sample time, where it may move the row on by
 * `SAMPLE_TIME_STEP_MS` or more (`applySampleTime`) — and, with `seen`, none
 * for a device this process knows it would not move. Saved by
 * `recordSampleTimes`, or queued with the device's other status changes.
 */
export const sampleTimeChanges = (
  outcomes: ReadonlyArray<IngestOutcome>,
  seen?: SampleTimesMemory,
): ReadonlyArray<SampleTimeChange> => {
  const newest = new Map<DeviceId, EpochMillis>();
  for (const o of outcomes) {
    if (o._tag !== "Stored") continue;
    for (const sample of o.message.samples) {
      const held = newest.get(o.message.deviceId);
      if (held === undefined || sample.timestamp > held)
        newest.set(o.message.deviceId, sample.timestamp);
    }
  }
  const changes: Array<SampleTimeChange> = [];
  for (const [deviceId, at] of newest) {
    const held = seen?.recalled(deviceId);
    if (held !== undefined && at < held + SAMPLE_TIME_STEP_MS) continue;
    // The time the row holds after the change, as last decided (a save that lost a race decides again).
    let recorded: EpochMillis | null = null;
    changes.push({
      deviceId,
      change: (s) => {
        const after = applySampleTime(s, at);
        recorded = after.lastSampleAt;
        return after;
      },
      saved: () => {
        if (recorded !== null) seen?.remember(deviceId, recorded);
      },
    });
  }
  return changes;
};

/**
 * Keeps each device's newest sample time in its status row, after the
 * ingest stored the messages (`outcomes`): the `sampleTimeChanges`, each
 * saved at once. The fleet view then reads one row a device. Returns how
 * many rows were written.
 */
export const recordSampleTimes = (
  outcomes: ReadonlyArray<IngestOutcome>,
  seen?: SampleTimesMemory,
): Effect.Effect<number, StorageUnavailable, DeviceStatuses> =>
  Effect.gen(function* () {
    let written = 0;
    for (const { deviceId, change, saved } of sampleTimeChanges(outcomes, seen)) {
      if ((yield* updateStatus(deviceId, change)) === "changed") written++;
      saved();
    }
    return written;
  });

const cursorLost = (store: string) => (e: InvalidCursor) =>
  new StorageUnavailable({
    store,
    operation: "list",
    reason: `the store refused its own cursor: ${e.reason}`,
  });

/** Every open alert, by device (open alerts are few: one per silent device at most). */
const openAlertsByDevice = Effect.gen(function* () {
  const alerts = yield* Alerts;
  const byDevice = new Map<DeviceId, Array<Alert>>();
  let cursor: string | null = null;
  do {
    const page: AlertPage = yield* alerts
      .listOpen({ limit: 100, ...(cursor !== null ? { cursor } : {}) })
      .pipe(Effect.catchTag("InvalidCursor", (e) => Effect.fail(cursorLost("alerts")(e))));
    for (const alert of page.alerts) {
      const held = byDevice.get(alert.deviceId) ?? [];
      held.push(alert);
      byDevice.set(alert.deviceId, held);
    }
    cursor = page.nextCursor;
  } while (cursor !== null);
  return byDevice;
});

export interface GapDetectorSettings {
  /** How long an assigned device may be silent (default `DEFAULT_GAP_MS`, 10 minutes). */
  readonly gapMs?: number;
  /** How many devices are looked at at once. */
  readonly concurrency?: number;
}

/** What one pass of the gap detector did. */
export interface GapDetectorReport {
  /** Devices looked at: assigned ones, and any with an open alert. */
  readonly checked: number;
  readonly opened: ReadonlyArray<DataGapOpened>;
  readonly closed: ReadonlyArray<DataGapClosed>;
  /** Changes not announced, so not stored: the next pass finds and announces them again. */
  readonly notDelivered: ReadonlyArray<AlertNotDelivered>;
}

/**
 * One pass of the gap detector over the fleet: every assigned device's newest
 * sample against the gap time (`checkDataGap`); a gap found is announced, then
 * kept as an alert; an open alert whose device sent data again, or is no longer
 * on that patient, is closed the same way. Announcing comes first, so a change
 * that could not be stored is announced again on the next pass (at least once);
 * a change that could not be announced is not stored, so it is found again.
 */
export const detectDataGaps = (
  settings: GapDetectorSettings = {},
): Effect.Effect<
  GapDetectorReport,
  StorageUnavailable,
  DeviceStatuses | Alerts | SensorStore | AlertNotifier | Clock
> =>
  Effect.gen(function* () {
    const gapMs = settings.gapMs ?? DEFAULT_GAP_MS;
    const statuses = yield* DeviceStatuses;
    const alerts = yield* Alerts;
    const sensors = yield* SensorStore;
    const notifier = yield* AlertNotifier;
    const now = yield* (yield* Clock).now;
    const open = yield* openAlertsByDevice;
    const watched: Array<FleetDeviceStatus> = [];
    const seen = new Set<DeviceId>();
    let cursor: string | null = null;
    do {
      const page: DeviceStatusPage = yield* statuses
        .list({ limit: 100, ...(cursor !== null ? { cursor } : {}) })
        .pipe(
          Effect.catchTag("InvalidCursor", (e) => Effect.fail(cursorLost("device statuses")(e))),
        );
      for (const status of page.statuses) {
        seen.add(status.deviceId);
        if (status.assignment !== null || open.has(status.deviceId)) watched.push(status);
      }
      cursor = page.nextCursor;
    } while (cursor !== null);
    // An open alert of a device without a status row (a row deleted by hand) still closes.
    for (const deviceId of open.keys())
      if (!seen.has(deviceId)) watched.push(initialDeviceStatus(deviceId));

    const opened: Array<DataGapOpened> = [];
    const closed: Array<DataGapClosed> = [];
    const notDelivered: Array<AlertNotDelivered> = [];
    const apply = (event: DataGapEvent) =>
      notifier.notify(event).pipe(
        Effect.matchEffect({
          onFailure: (e) => Effect.sync(() => void notDelivered.push(e)),
          onSuccess: () =>
            event._tag === "DataGapOpened"
              ? Effect.map(alerts.open(event), () => void opened.push(event))
              : Effect.map(alerts.close(event), () => void closed.push(event)),
        }),
      );
    yield* Effect.forEach(
      watched,
      (status) =>
        Effect.gen(function* () {
          const lastSampleAt =
            status.assignment === null ? null : yield* sensors.lastSampleAt(status.deviceId);
          const events = checkDataGap({
            deviceId: status.deviceId,
            assignment: status.assignment,
            lastSampleAt,
            open: open.get(status.deviceId) ?? [],
            now,
            gapMs,
          });
          yield* Effect.forEach(events, apply, { discard: true });
        }),
      { concurrency: settings.concurrency ?? 8, discard: true },
    );
    return { checked: watched.length, opened, closed, notDelivered };
  });

/** What the fleet view filters by: who wears it, whether it is connected, whether it has an open alert. */
export const FleetFilter = Schema.Literal("available", "assigned", "offline", "alert");
export type FleetFilter = typeof FleetFilter.Type;

/** One device as the fleet view shows it. */
export interface FleetDevice {
  readonly status: FleetDeviceStatus;
  readonly connected: boolean;
  readonly lastSeenAt: EpochMillis | null;
  readonly lastSampleAt: EpochMillis | null;
  readonly openAlerts: ReadonlyArray<Alert>;
}

export interface FleetPage {
  readonly devices: ReadonlyArray<FleetDevice>;
  /** Opaque; null on the last page. A page may be short (a filter) and still have a next one. */
  readonly nextCursor: string | null;
}

const matches = (device: FleetDevice, filter: FleetFilter | undefined): boolean => {
  switch (filter) {
    case undefined:
      return true;
    case "available":
      return device.status.assignment === null;
    case "assigned":
      return device.status.assignment !== null;
    case "offline":
      return !device.connected;
    case "alert":
      return device.openAlerts.length > 0;
  }
};

/** How many store pages one fleet page reads at most while a filter leaves it short. */
const MAX_STORE_PAGES = 20;

/** One device of the fleet page from its status row alone (its newest sample time to the minute). */
const fleetDeviceOf = (
  status: FleetDeviceStatus,
  openAlerts: ReadonlyArray<Alert>,
  now: EpochMillis,
): FleetDevice => ({
  status,
  connected: isConnected(status),
  lastSeenAt: lastSeenAt(status, now),
  lastSampleAt: status.lastSampleAt,
  openAlerts,
});

/**
 * A page of the fleet: each device's status, presence, newest sample (as its
 * status row keeps it, `recordSampleTimes`) and open alerts — the status
 * rows and the open alerts, nothing read per device.
 */
export const fleetDevices = (page: {
  readonly limit: number;
  readonly cursor?: string;
  readonly filter?: FleetFilter;
}): Effect.Effect<FleetPage, InvalidCursor | StorageUnavailable, DeviceStatuses | Alerts | Clock> =>
  Effect.gen(function* () {
    const statuses = yield* DeviceStatuses;
    const now = yield* (yield* Clock).now;
    const devices: Array<FleetDevice> = [];
    const rowsAfter = (cursor: string | null) =>
      statuses.list({
        limit: page.limit - devices.length,
        ...(cursor !== null ? { cursor } : {}),
      });
    // The open alerts and the first rows are read side by side: the page waits for the slower.
    const [open, firstRows] = yield* Effect.all(
      [openAlertsByDevice, rowsAfter(page.cursor ?? null)],
      { concurrency: 2 },
    );
    let cursor: string | null = page.cursor ?? null;
    let reads = 0;
    do {
      const rows = reads === 0 ? firstRows : yield* rowsAfter(cursor);
      const views = rows.statuses.map((status) =>
        fleetDeviceOf(status, open.get(status.deviceId) ?? [], now),
      );
      devices.push(...views.filter((d) => matches(d, page.filter)));
      cursor = rows.nextCursor;
      reads++;
    } while (devices.length < page.limit && cursor !== null && reads < MAX_STORE_PAGES);
    return { devices, nextCursor: cursor };
  });

/** One device as the fleet view shows it, with its latest alerts (open or closed). */
export interface FleetDeviceDetail extends FleetDevice {
  readonly recentAlerts: ReadonlyArray<Alert>;
}

/** One device's status; a device never seen nor assigned is disconnected, unassigned and never seen. */
export const fleetDevice = (
  deviceId: DeviceId,
): Effect.Effect<
  FleetDeviceDetail,
  StorageUnavailable,
  DeviceStatuses | Alerts | SensorStore | Clock
> =>
  Effect.gen(function* () {
    const row = yield* (yield* DeviceStatuses).get(deviceId);
    const recentAlerts = yield* (yield* Alerts).ofDevice(deviceId, 20);
    const now = yield* (yield* Clock).now;
    const view = fleetDeviceOf(
      row?.status ?? initialDeviceStatus(deviceId),
      recentAlerts.filter(isOpen),
      now,
    );
    // One device: its newest sample to the millisecond, from the sensor table.
    const lastSampleAt = yield* (yield* SensorStore).lastSampleAt(deviceId);
    return { ...view, lastSampleAt: lastSampleAt ?? view.lastSampleAt, recentAlerts };
  });

/** The open alerts, newest raised first. */
export const openAlerts = (page: { readonly limit: number; readonly cursor?: string }) =>
  Effect.flatMap(Alerts, (a) => a.listOpen(page));

/** A clinician acknowledges an alert (it stays open until its gap closes); again keeps the first. */
export const acknowledgeAlert = (
  alertId: AlertId,
  by: Actor,
): Effect.Effect<Alert, AlertNotFound | StorageUnavailable, Alerts | Clock> =>
  Effect.gen(function* () {
    const at = yield* (yield* Clock).now;
    return yield* (yield* Alerts).acknowledge(alertId, by, at);
  });
