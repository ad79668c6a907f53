import {
  type Alert,
  AlertId,
  acknowledgeAlert,
  DeviceId,
  type FleetDevice,
  fleetDevice,
  fleetDevices,
  openAlerts,
} from "@medusa/domain";
import { Effect } from "effect";
import { Hono } from "hono";
import type { Routes } from "../app.js";
import { type ApiEnv, requireRole } from "../context.js";
import { decodeInput, decodeParam, noQuery } from "../input.js";
import { sendRevalidated } from "../revalidate.js";
import {
  AlertResponse,
  AlertsQuery,
  AlertsResponse,
  type AlertView,
  FleetDeviceDetailResponse,
  FleetDevicesQuery,
  FleetDevicesResponse,
  type FleetDeviceView,
} from "../schemas.js";
import { send } from "../views.js";

const DEFAULT_PAGE = 50;

const alertView = (a: Alert): typeof AlertView.Type => ({
  alert_id: a.id,
  kind: a.kind,
  device_id: a.deviceId,
  patient_id: a.patientId,
  assignment_start: a.assignmentStart,
  since: a.since,
  raised_at: a.raisedAt,
  closed_at: a.closedAt,
  close_reason: a.closeReason,
  acknowledged_at: a.acknowledgedAt,
  acknowledged_by: a.acknowledgedBy,
});

const deviceView = (d: FleetDevice): typeof FleetDeviceView.Type => {
  const a = d.status.assignment;
  return {
    device_id: d.status.deviceId,
    connected: d.connected,
    last_seen: d.lastSeenAt,
    last_sample: d.lastSampleAt,
    last_connected_at: d.status.lastConnect?.timestamp ?? null,
    last_disconnected_at: d.status.lastDisconnect?.timestamp ?? null,
    disconnect_reason: d.status.lastDisconnect?.disconnectReason ?? null,
    assignment:
      a === null
        ? null
        : {
            patient_id: a.patientId,
            patient_name: a.patientName ?? null,
            assigned_by: a.assignedBy,
            assignment_timestamp: a.start,
          },
    open_alerts: d.openAlerts.map(alertView),
    reported: d.status.reported,
  };
};

/** `/api/devices` (the fleet view: `GET /` and `GET /{device_id}`), mounted beside the assignment routes. */
export const fleet = ({ run, cursors }: Routes) => {
  const app = new Hono<ApiEnv>();

  app.get("/", async (c) => {
    requireRole(c, "viewer");
    const q = decodeInput(FleetDevicesQuery, c.req.query());
    const page = await run(
      Effect.flatMap(
        q.cursor === undefined ? Effect.succeed(undefined) : cursors.open(q.cursor),
        (cursor) =>
          fleetDevices({
            limit: q.limit ?? DEFAULT_PAGE,
            ...(cursor !== undefined ? { cursor } : {}),
            ...(q.status !== undefined ? { filter: q.status } : {}),
          }),
      ),
    );
    const shown = page.devices.map(deviceView);
    return sendRevalidated(
      c,
      FleetDevicesResponse,
      {
        devices: shown,
        count: shown.length,
        next_cursor: page.nextCursor === null ? null : cursors.seal(page.nextCursor),
      },
      // A connected device's last_seen is the time of the read: the same page an instant later.
      (p) => ({
        ...p,
        devices: p.devices.map((d) => (d.connected ? { ...d, last_seen: null } : d)),
      }),
    );
  });

  app.get("/:device_id", async (c) => {
    requireRole(c, "viewer");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const d = await run(fleetDevice(deviceId));
    return send(c, FleetDeviceDetailResponse, {
      ...deviceView(d),
      recent_alerts: d.recentAlerts.map(alertView),
    });
  });

  return app;
};

/** `/api/alerts`: the open data-gap alerts, and acknowledging one. */
export const alerts = ({ run, cursors }: Routes) => {
  const app = new Hono<ApiEnv>();

  app.get("/", async (c) => {
    requireRole(c, "viewer");
    const q = decodeInput(AlertsQuery, c.req.query());
    const page = await run(
      Effect.flatMap(
        q.cursor === undefined ? Effect.succeed(undefined) : cursors.open(q.cursor),
        (cursor) =>
          openAlerts({
            limit: q.limit ?? DEFAULT_PAGE,
            ...(cursor !== undefined ? { cursor } : {}),
          }),
      ),
    );
    return sendRevalidated(c, AlertsResponse, {
      alerts: page.alerts.map(alertView),
      count: page.alerts.length,
      next_cursor: page.nextCursor === null ? null : cursors.seal(page.nextCursor),
    });
  });

  app.post("/:alert_id/acknowledge", async (c) => {
    const actor = requireRole(c, "clinician").email;
    const alertId = decodeParam("alert_id", AlertId, c.req.param("alert_id"));
    noQuery(c.req.query());
    const alert = await run(acknowledgeAlert(alertId, actor));
    return send(c, AlertResponse, { alert: alertView(alert) });
  });

  return app;
};
