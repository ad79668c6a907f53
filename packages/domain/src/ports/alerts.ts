import { Context, type Effect, Schema } from "effect";
import type {
  Alert,
  AlertId,
  DataGapClosed,
  DataGapEvent,
  DataGapOpened,
} from "../fleet/data-gap.js";
import type { Actor, DeviceId, EpochMillis } from "../ids.js";
import type { InvalidCursor } from "./sensor-store.js";
import type { StorageUnavailable } from "./storage.js";

/** No alert has this id. */
export class AlertNotFound extends Schema.TaggedError<AlertNotFound>()("AlertNotFound", {
  alertId: Schema.String,
}) {
  override get message(): string {
    return `no alert ${this.alertId}`;
  }
}

/** A page of alerts, newest raised first. */
export interface AlertPage {
  readonly alerts: ReadonlyArray<Alert>;
  /** Opaque; null on the last page. */
  readonly nextCursor: string | null;
}

/**
 * The data-gap alerts: opened and closed by the gap detector (each at most
 * once: an alert's id is its gap), acknowledged by clinicians, listed open
 * (the fleet) or by device.
 */
export class Alerts extends Context.Tag("@medusa/Alerts")<
  Alerts,
  {
    /** Keeps the alert a gap opens; `"exists"` when it is kept already (nothing changes). */
    readonly open: (
      opened: DataGapOpened,
    ) => Effect.Effect<"opened" | "exists", StorageUnavailable>;
    /** Closes an open alert; `"not-open"` when it is closed already or unknown (nothing changes). */
    readonly close: (
      closed: DataGapClosed,
    ) => Effect.Effect<"closed" | "not-open", StorageUnavailable>;
    /** Acknowledged by `by` at `at`; acknowledging again keeps the first. The alert as it is then. */
    readonly acknowledge: (
      alertId: AlertId,
      by: Actor,
      at: EpochMillis,
    ) => Effect.Effect<Alert, AlertNotFound | StorageUnavailable>;
    readonly get: (alertId: AlertId) => Effect.Effect<Alert | null, StorageUnavailable>;
    /** The open alerts, newest raised first, a page at a time. */
    readonly listOpen: (page: {
      readonly limit: number;
      readonly cursor?: string;
    }) => Effect.Effect<AlertPage, InvalidCursor | StorageUnavailable>;
    /** A device's alerts, open or closed, newest raised first: its `limit` latest. */
    readonly ofDevice: (
      deviceId: DeviceId,
      limit: number,
    ) => Effect.Effect<ReadonlyArray<Alert>, StorageUnavailable>;
  }
>() {}

export type AlertsService = Context.Tag.Service<Alerts>;

/** A gap alert could not be sent to whoever is subscribed (SNS in AWS). */
export class AlertNotDelivered extends Schema.TaggedError<AlertNotDelivered>()(
  "AlertNotDelivered",
  { alertId: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `alert ${this.alertId} not delivered: ${this.reason}`;
  }
}

/**
 * Where opened and closed gaps are announced: an SNS topic in AWS, the log
 * (and listeners) in the local stack. At least once: the detector announces
 * a change before it stores it, so a failure to store announces it again on
 * the next pass.
 */
export class AlertNotifier extends Context.Tag("@medusa/AlertNotifier")<
  AlertNotifier,
  { readonly notify: (event: DataGapEvent) => Effect.Effect<void, AlertNotDelivered> }
>() {}

export type AlertNotifierService = Context.Tag.Service<AlertNotifier>;
