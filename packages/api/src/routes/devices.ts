import { randomUUID } from "node:crypto";
import { currentPatient, DeviceId, deviceAssignments } from "@medusa/domain";
import { Hono } from "hono";
import type { Routes } from "../app.js";
import { type ApiEnv, requireRole } from "../context.js";
import { commandIdFor, decodeInput, decodeParam, jsonBody, noQuery } from "../input.js";
import { ProblemError, problem } from "../problems.js";
import {
  AssignBody,
  AssignResponse,
  AuditTrailResponse,
  DevicePatientResponse,
  ReassignBody,
  UnassignBody,
  UnassignQuery,
  UnassignResponse,
} from "../schemas.js";
import { assignmentView, devicePatientView, send, startedView } from "../views.js";

/** `/api/devices`: assignment commands and a device's views. */
export const devices = ({ deps, run, command }: Routes) => {
  const newId = deps.newId ?? randomUUID;
  const app = new Hono<ApiEnv>();

  app.post("/assign", async (c) => {
    const actor = requireRole(c, "clinician").email;
    const body = decodeInput(AssignBody, await jsonBody(c));
    const { commandId, idempotency } = commandIdFor(c, "assign", body, newId);
    const outcome = await command(
      {
        _tag: "AssignDevice",
        commandId,
        deviceId: body.device_id,
        actor,
        patientId: body.patient_id,
        ...(body.patient_name !== undefined ? { patientName: body.patient_name } : {}),
        ...(body.notes !== undefined ? { notes: body.notes } : {}),
        ...(body.assignment_timestamp !== undefined ? { at: body.assignment_timestamp } : {}),
      },
      idempotency,
    );
    if (outcome.duplicate) c.header("idempotent-replayed", "true");
    return send(
      c,
      AssignResponse,
      { status: "success", assignment: startedView(outcome.commit) },
      201,
    );
  });

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
    const { commandId, idempotency } = commandIdFor(c, "unassign", body, newId);
    const outcome = await command(
      {
        _tag: "EndAssignment",
        commandId,
        deviceId: body.device_id,
        actor,
        patientId: body.patient_id,
        reason: body.reason ?? "completed",
        ...(body.assignment_end !== undefined ? { at: body.assignment_end } : {}),
      },
      idempotency,
    );
    if (outcome.duplicate) c.header("idempotent-replayed", "true");
    return send(c, UnassignResponse, { status: "device unassigned" });
  });

  app.post("/reassign", async (c) => {
    const actor = requireRole(c, "clinician").email;
    const body = decodeInput(ReassignBody, await jsonBody(c));
    const { commandId, idempotency } = commandIdFor(c, "reassign", body, newId);
    const outcome = await command(
      {
        _tag: "ReassignDevice",
        commandId,
        deviceId: body.device_id,
        actor,
        patientId: body.patient_id,
        ...(body.patient_name !== undefined ? { patientName: body.patient_name } : {}),
        ...(body.notes !== undefined ? { notes: body.notes } : {}),
        reason: body.reason ?? "completed",
        ...(body.assignment_timestamp !== undefined ? { at: body.assignment_timestamp } : {}),
      },
      idempotency,
    );
    if (outcome.duplicate) c.header("idempotent-replayed", "true");
    return send(
      c,
      AssignResponse,
      { status: "success", assignment: startedView(outcome.commit) },
      201,
    );
  });

  app.get("/:device_id/patient", async (c) => {
    requireRole(c, "viewer");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const active = await run(currentPatient(deviceId));
    return send(c, DevicePatientResponse, devicePatientView(deviceId, active));
  });

  app.get("/:device_id/assignments", async (c) => {
    requireRole(c, "viewer");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const trail = await run(deviceAssignments(deviceId));
    return send(c, AuditTrailResponse, {
      device_id: deviceId,
      assignments: trail.map(assignmentView),
    });
  });

  return app;
};
