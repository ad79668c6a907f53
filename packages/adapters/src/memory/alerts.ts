import {
  type Alert,
  type AlertId,
  AlertNotFound,
  type AlertsService,
  acknowledgedAlert,
  alertOf,
  closeAlert,
  isOpenAlert,
} from "@medusa/domain";
import { Effect } from "effect";
import { decodeAlertCursor, encodeAlertCursor } from "../fleet/cursors.js";

/** Newest raised first; of one time, by id (descending), so a cursor names one place. */
const newestFirst = (a: Alert, b: Alert) =>
  b.raisedAt - a.raisedAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);

/** The alerts' in-memory twin: the same rules as the DynamoDB store (an alert's id is its gap). */
export const makeInMemoryAlerts = (): AlertsService & {
  readonly all: () => ReadonlyArray<Alert>;
} => {
  const alerts = new Map<AlertId, Alert>();
  return {
    open: (opened) =>
      Effect.sync(() => {
        if (alerts.has(opened.alertId)) return "exists";
        alerts.set(opened.alertId, alertOf(opened));
        return "opened";
      }),
    close: (closed) =>
      Effect.sync(() => {
        const held = alerts.get(closed.alertId);
        if (held === undefined || !isOpenAlert(held)) return "not-open";
        alerts.set(closed.alertId, closeAlert(held, closed));
        return "closed";
      }),
    acknowledge: (alertId, by, at) =>
      Effect.suspend(() => {
        const held = alerts.get(alertId);
        if (held === undefined) return Effect.fail(new AlertNotFound({ alertId }));
        const after = acknowledgedAlert(held, by, at);
        alerts.set(alertId, after);
        return Effect.succeed(after);
      }),
    get: (alertId) => Effect.sync(() => alerts.get(alertId) ?? null),
    listOpen: (page) =>
      Effect.gen(function* () {
        const after = page.cursor === undefined ? null : yield* decodeAlertCursor(page.cursor);
        const open = [...alerts.values()]
          .filter(isOpenAlert)
          .sort(newestFirst)
          .filter(
            (a) =>
              after === null || a.raisedAt < after.t || (a.raisedAt === after.t && a.id < after.id),
          );
        const taken = open.slice(0, page.limit);
        const last = taken.at(-1);
        return {
          alerts: taken,
          nextCursor:
            open.length > taken.length && last !== undefined
              ? encodeAlertCursor(last.raisedAt, last.id)
              : null,
        };
      }),
    ofDevice: (deviceId, limit) =>
      Effect.sync(() =>
        [...alerts.values()]
          .filter((a) => a.deviceId === deviceId)
          .sort(newestFirst)
          .slice(0, limit),
      ),
    all: () => [...alerts.values()].sort(newestFirst),
  };
};
