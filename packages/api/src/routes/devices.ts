import { randomUUID } from "node:crypto";
import {
  type Commit,
  DeviceAlreadyAssigned,
  type DeviceAssigned,
  DeviceId,
  epochMillis,
} from "@medusa/domain";
import { Effect, Either, Predicate } from "effect";
import { Hono } from "hono";
import {
  type ApiDeps,
  type ApiEnv,
  assignmentView,
  commandIdFor,
  decodeInput,
  decodeParam,
  jsonBody,
  noQuery,
  requireRole,
  run,
} from "../context.js";
import { problemFor } from "../errors.js";
import { ProblemError, problem } from "../problems.js";
import { AssignBody, ReassignBody, UnassignBody, UnassignQuery } from "../schemas.js";

/** A command's failure as a problem (typed failures only; anything else is a 500). */
const fail = (error: unknown): never => {
  const p = problemFor(error);
  if (p) throw new ProblemError(p, error);
  throw error;
};

/** The assignment a commit started, as the old backend returned it. */
const started = (commit: Commit) => {
  const e = commit.events.find((x): x is DeviceAssigned => x._tag === "DeviceAssigned");
  return e
    ? {
        device_id: e.deviceId,
        patient_id: e.patientId,
        patient_name: e.patientName ?? null,
        assigned_by: e.assignedBy,
        assignment_timestamp: e.at,
        assignment_end: null,
        ended_by: null,
        status: "active" as const,
        notes: e.notes ?? null,
      }
    : null;
};

/** `/api/devices`: assignment commands and a device's views. */
export const devices = (deps: ApiDeps) => {
  const now = deps.now ?? Date.now;
  const newId = deps.newId ?? randomUUID;
  const app = new Hono<ApiEnv>();

  app.post("/assign", async (c) => {
    const actor = requireRole(c, "clinician").email;
    const body = decodeInput(AssignBody, await jsonBody(c));
    const t = epochMillis(now());
    const r = await run(deps, {
      _tag: "AssignDevice",
      commandId: commandIdFor(c, "assign", newId),
      deviceId: body.device_id,
      actor,
      patientId: body.patient_id,
      patientName: body.patient_name,
      ...(body.notes !== undefined ? { notes: body.notes } : {}),
      at: body.assignment_timestamp ?? t,
      now: t,
    });
    if (Either.isLeft(r)) return fail(await lostRaceToAssign(body.device_id, r.left));
    if (r.right.duplicate) c.header("idempotent-replayed", "true");
    return c.json({ status: "success", assignment: started(r.right.commit) }, 201);
  });

  /**
   * An assign that lost the race for the device's stream to another command:
   * when the winner assigned the device, say so as any 409 for an assigned
   * device does, naming the patient and since when.
   */
  const lostRaceToAssign = async (deviceId: DeviceId, error: unknown) => {
    if (!Predicate.isTagged(error, "VersionConflict")) return error;
    const current = await Effect.runPromise(
      Effect.either(deps.readModel.currentAssignment(deviceId)),
    );
    if (Either.isLeft(current) || current.right === null) return error;
    const { patientId, patientName, assignedBy, start, notes } = current.right;
    return new DeviceAlreadyAssigned({
      deviceId,
      current: {
        deviceId,
        patientId,
        assignedBy,
        since: start,
        ...(patientName !== undefined ? { patientName } : {}),
        ...(notes !== undefined ? { notes } : {}),
      },
    });
  };

  app.post("/unassign", async (c) => {
    const actor = requireRole(c, "clinician").email;
    // The old route took query parameters; a JSON body works too, but not both at once.
    const query = c.req.query();
    const json = await jsonBody(c);
    const hasBody = typeof json !== "object" || json === null || Object.keys(json).length > 0;
    if (Object.keys(query).length > 0 && hasBody)
      throw new ProblemError(
        problem(400, "validation-error", "Invalid request", {
          detail: "give the fields as query parameters or as a JSON body, not both",
          errors: [{ path: "", message: "query parameters and a JSON body in one request" }],
        }),
      );
    const body =
      Object.keys(query).length > 0
        ? decodeInput(UnassignQuery, query)
        : decodeInput(UnassignBody, json);
    const t = epochMillis(now());
    const r = await run(deps, {
      _tag: "EndAssignment",
      commandId: commandIdFor(c, "unassign", newId),
      deviceId: body.device_id,
      actor,
      patientId: body.patient_id,
      reason: body.reason ?? "completed",
      at: body.assignment_end ?? t,
      now: t,
    });
    if (Either.isLeft(r)) return fail(r.left);
    if (r.right.duplicate) c.header("idempotent-replayed", "true");
    return c.json({ status: "device unassigned" }, 200);
  });

  app.post("/reassign", async (c) => {
    const actor = requireRole(c, "clinician").email;
    const body = decodeInput(ReassignBody, await jsonBody(c));
    const t = epochMillis(now());
    const r = await run(deps, {
      _tag: "ReassignDevice",
      commandId: commandIdFor(c, "reassign", newId),
      deviceId: body.device_id,
      actor,
      patientId: body.patient_id,
      patientName: body.patient_name,
      ...(body.notes !== undefined ? { notes: body.notes } : {}),
      reason: body.reason ?? "completed",
      at: body.assignment_timestamp ?? t,
      now: t,
    });
    if (Either.isLeft(r)) return fail(r.left);
    if (r.right.duplicate) c.header("idempotent-replayed", "true");
    return c.json({ status: "success", assignment: started(r.right.commit) }, 201);
  });

  app.get("/:device_id/patient", async (c) => {
    requireRole(c, "viewer");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const current = await Effect.runPromise(
      Effect.either(deps.readModel.currentAssignment(deviceId)),
    );
    if (Either.isLeft(current)) return fail(current.left);
    const active = current.right;
    return c.json({
      device_id: deviceId,
      patient: active
        ? {
            patient_id: active.patientId,
            patient_name: active.patientName ?? null,
            assignment_timestamp: active.start,
            assigned_by: active.assignedBy,
            notes: active.notes ?? null,
          }
        : null,
    });
  });

  app.get("/:device_id/assignments", async (c) => {
    requireRole(c, "viewer");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const intervals = await Effect.runPromise(
      Effect.either(deps.readModel.deviceIntervals(deviceId)),
    );
    if (Either.isLeft(intervals)) return fail(intervals.left);
    return c.json({
      device_id: deviceId,
      assignments: [...intervals.right].reverse().map(assignmentView),
    });
  });

  return app;
};

export { fail };
