import { PatientId, patientDevices, patientTimeline } from "@medusa/domain";
import { Effect } from "effect";
import { Hono } from "hono";
import type { Routes } from "../app.js";
import { type ApiEnv, requireRole } from "../context.js";
import { decodeInput, decodeParam, jsonBody } from "../input.js";
import {
  PatientDevicesQuery,
  PatientDevicesResponse,
  SensorDataBody,
  SensorDataQuery,
  SensorDataResponse,
} from "../schemas.js";
import { assignmentView, send, timelineView } from "../views.js";

const DEFAULT_PAGE = 1_000;

/** `/api/patients`: a patient's devices and timeline. */
export const patients = ({ run, cursors }: Routes) => {
  const app = new Hono<ApiEnv>();

  app.get("/:patient_id/devices", async (c) => {
    requireRole(c, "viewer");
    const patientId = decodeParam("patient_id", PatientId, c.req.param("patient_id"));
    const { include } = decodeInput(PatientDevicesQuery, c.req.query());
    const shown = await run(patientDevices(patientId, { history: include === "history" }));
    return send(c, PatientDevicesResponse, {
      patient_id: patientId,
      devices: shown.map(assignmentView),
    });
  });

  const timeline = async (
    patientIdRaw: string,
    input: { start_time: number; end_time: number; limit?: number; cursor?: string },
  ) => {
    const patientId = decodeParam("patient_id", PatientId, patientIdRaw);
    const page = await run(
      Effect.flatMap(
        input.cursor === undefined ? Effect.succeed(undefined) : cursors.open(input.cursor),
        (cursor) =>
          patientTimeline(
            patientId,
            { start: input.start_time, end: input.end_time },
            { limit: input.limit ?? DEFAULT_PAGE, ...(cursor !== undefined ? { cursor } : {}) },
          ),
      ),
    );
    return timelineView(patientId, {
      samples: page.samples,
      nextCursor: page.nextCursor === null ? null : cursors.seal(page.nextCursor),
    });
  };

  app.get("/:patient_id/sensor-data", async (c) => {
    requireRole(c, "viewer");
    const input = decodeInput(SensorDataQuery, c.req.query());
    return send(c, SensorDataResponse, await timeline(c.req.param("patient_id"), input));
  });

  // The old backend's form: the same fields in a JSON body.
  app.post("/:patient_id/sensor-data", async (c) => {
    requireRole(c, "viewer");
    const input = decodeInput(SensorDataBody, await jsonBody(c));
    return send(c, SensorDataResponse, await timeline(c.req.param("patient_id"), input));
  });

  return app;
};
