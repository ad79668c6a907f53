import { PatientId } from "@medusa/domain";
import { Effect, Either } from "effect";
import { Hono } from "hono";
import {
  type ApiDeps,
  type ApiEnv,
  assignmentView,
  decodeInput,
  decodeParam,
  jsonBody,
  requireRole,
} from "../context.js";
import { ProblemError, problem } from "../problems.js";
import { PatientDevicesQuery, SensorDataBody, SensorDataQuery } from "../schemas.js";
import { fail } from "./devices.js";

const DEFAULT_PAGE = 1_000;

/** `/api/patients`: a patient's devices and timeline. */
export const patients = (deps: ApiDeps) => {
  const app = new Hono<ApiEnv>();

  app.get("/:patient_id/devices", async (c) => {
    requireRole(c, "viewer");
    const patientId = decodeParam("patient_id", PatientId, c.req.param("patient_id"));
    const { include } = decodeInput(PatientDevicesQuery, c.req.query());
    const intervals = await Effect.runPromise(
      Effect.either(deps.readModel.patientIntervals(patientId)),
    );
    if (Either.isLeft(intervals)) return fail(intervals.left);
    const shown =
      include === "history" ? intervals.right : intervals.right.filter((i) => i.end === null);
    return c.json({ patient_id: patientId, devices: shown.map(assignmentView) });
  });

  const timeline = async (
    patientIdRaw: string,
    input: { start_time: number; end_time: number; limit?: number; cursor?: string },
  ) => {
    const patientId = decodeParam("patient_id", PatientId, patientIdRaw);
    if (input.end_time <= input.start_time) {
      throw new ProblemError(
        problem(400, "validation-error", "Invalid request", {
          detail: "end_time must be after start_time",
        }),
      );
    }
    const page = await Effect.runPromise(
      Effect.either(
        deps.sensors.patientTimeline(
          patientId,
          { start: input.start_time, end: input.end_time },
          { limit: input.limit ?? DEFAULT_PAGE, ...(input.cursor ? { cursor: input.cursor } : {}) },
        ),
      ),
    );
    if (Either.isLeft(page)) return fail(page.left);
    const data = page.right.samples.map((s) => ({
      device_id: s.deviceId,
      timestamp: s.timestamp,
      accel_x: s.x,
      accel_y: s.y,
      accel_z: s.z,
      magnitude: s.magnitude,
      ...(s.temperature !== undefined ? { temperature: s.temperature } : {}),
      sequence: s.sequence,
    }));
    return { patient_id: patientId, data, count: data.length, next_cursor: page.right.nextCursor };
  };

  app.get("/:patient_id/sensor-data", async (c) => {
    requireRole(c, "viewer");
    return c.json(
      await timeline(c.req.param("patient_id"), decodeInput(SensorDataQuery, c.req.query())),
    );
  });

  // The old backend's form: the same fields in a JSON body.
  app.post("/:patient_id/sensor-data", async (c) => {
    requireRole(c, "viewer");
    return c.json(
      await timeline(c.req.param("patient_id"), decodeInput(SensorDataBody, await jsonBody(c))),
    );
  });

  return app;
};
