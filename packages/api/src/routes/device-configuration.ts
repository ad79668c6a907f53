import {
  changeConfiguration,
  type DesiredWrite,
  DeviceId,
  type DeviceSettings,
  DeviceShadows,
  deviceConfiguration,
  endLiveMode,
  settingsState,
  startLiveMode,
} from "@medusa/domain";
import { Effect } from "effect";
import { Hono } from "hono";
import type { Routes } from "../app.js";
import { type ApiEnv, type ApiPorts, requireRole } from "../context.js";
import type { ApiFailure } from "../errors.js";
import { decodeInput, decodeParam, jsonBody, noQuery } from "../input.js";
import { ProblemError, problem } from "../problems.js";
import {
  ConfigurationBody,
  DesiredWriteResponse,
  DeviceConfigurationResponse,
  LiveModeBody,
} from "../schemas.js";
import { send } from "../views.js";

const desiredView = (settings: DeviceSettings) => settingsState(settings);

const writeView = (w: DesiredWrite) => ({
  device_id: w.deviceId,
  version: w.version,
  desired: desiredView(w.desired),
});

/**
 * `/api/devices/{device_id}/configuration` and `/live`: a device's settings
 * through its shadow (AWS IoT's data plane in AWS, the broker's emulation of
 * it locally). Changes are accepted (202): the device takes them when it
 * next hears from its shadow, and reports them.
 */
export const deviceConfigurationRoutes = ({ deps, run }: Routes) => {
  const app = new Hono<ApiEnv>();
  /** A use case on the shadows port; 503 when this API has none. */
  const withShadows = <A>(effect: Effect.Effect<A, ApiFailure, ApiPorts | DeviceShadows>) => {
    const shadows = deps.shadows;
    if (!shadows)
      throw new ProblemError(
        problem(503, "shadow-unavailable", "The device shadow service is unavailable", {
          detail: "this API is not connected to a device shadow service",
        }),
      );
    return run(
      Effect.provideService(effect, DeviceShadows, shadows) as Effect.Effect<
        A,
        ApiFailure,
        ApiPorts
      >,
    );
  };

  app.get("/:device_id/configuration", async (c) => {
    requireRole(c, "viewer");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const config = await withShadows(deviceConfiguration(deviceId));
    return send(c, DeviceConfigurationResponse, {
      device_id: config.deviceId,
      version: config.version,
      desired: desiredView(config.desired),
      reported: config.reported ?? null,
      pending: config.pending,
      refused: config.refused,
      desired_at: config.desiredAt ?? null,
      reported_at: config.reportedAt ?? null,
    });
  });

  app.patch("/:device_id/configuration", async (c) => {
    requireRole(c, "clinician");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const body = decodeInput(ConfigurationBody, await jsonBody(c));
    const written = await withShadows(changeConfiguration(deviceId, body));
    return send(c, DesiredWriteResponse, writeView(written), 202);
  });

  app.post("/:device_id/live", async (c) => {
    requireRole(c, "clinician");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const body = decodeInput(LiveModeBody, await jsonBody(c));
    const written = await withShadows(
      startLiveMode(deviceId, {
        intervalMs: body.interval_ms ?? 1_000,
        durationMs: (body.duration_s ?? 300) * 1_000,
      }),
    );
    return send(c, DesiredWriteResponse, writeView(written), 202);
  });

  app.delete("/:device_id/live", async (c) => {
    requireRole(c, "clinician");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const written = await withShadows(endLiveMode(deviceId));
    return send(c, DesiredWriteResponse, writeView(written), 202);
  });

  return app;
};
