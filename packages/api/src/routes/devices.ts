import { randomUUID } from "node:crypto";
import {
  type CommandRequest,
  currentPatient,
  DeviceId,
  deviceAssignments,
  deviceRecordAsOf,
  type RetractAssignment,
} from "@medusa/domain";
import { type Context, Hono } from "hono";
import type { Routes } from "../app.js";
import { type ApiEnv, requireRole } from "../context.js";
import { commandIdFor, decodeInput, decodeParam, jsonBody, noQuery } from "../input.js";
import { ProblemError, problem } from "../problems.js";
import {
  AmendBody,
  AssignBody,
  AssignmentsQuery,
  AssignResponse,
  AuditTrailResponse,
  CorrectionResponse,
  CorrectPatientBody,
  DevicePatientResponse,
  ReassignBody,
  RecordAsOfResponse,
  RetractBody,
  Since,
  UnassignBody,
  UnassignQuery,
  UnassignResponse,
} from "../schemas.js";
import {
  assignmentView,
  correctedView,
  devicePatientView,
  recordedView,
  send,
  startedView,
} from "../views.js";

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
    const { as_of } = decodeInput(AssignmentsQuery, c.req.query());
    if (as_of !== undefined) {
      // What was believed then: from the event stream, corrections recorded by then beside each.
      const record = await run(deviceRecordAsOf(deviceId, as_of));
      return send(c, RecordAsOfResponse, {
        device_id: deviceId,
        as_of,
        assignments: record.map(recordedView),
      });
    }
    const trail = await run(deviceAssignments(deviceId));
    return send(c, AuditTrailResponse, {
      device_id: deviceId,
      assignments: trail.map(assignmentView),
    });
  });

  // Corrections of the record: the assignment is named by its start as it stands.
  type Common = Pick<RetractAssignment, "commandId" | "deviceId" | "actor" | "start">;
  const correction = async (
    c: Context<ApiEnv>,
    route: string,
    body: unknown,
    toCommand: (common: Common) => CommandRequest,
  ) => {
    const actor = requireRole(c, "clinician").email;
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    const start = decodeParam("since", Since, c.req.param("since"));
    noQuery(c.req.query());
    const { commandId, idempotency } = commandIdFor(
      c,
      route,
      { device_id: deviceId, since: start, body },
      newId,
    );
    const outcome = await command(toCommand({ commandId, deviceId, actor, start }), idempotency);
    if (outcome.duplicate) c.header("idempotent-replayed", "true");
    return send(c, CorrectionResponse, correctedView(outcome.commit));
  };

  app.post("/:device_id/assignments/:since/retract", async (c) => {
    const body = decodeInput(RetractBody, await jsonBody(c));
    return correction(c, "retract", body, (common) => ({
      _tag: "RetractAssignment",
      ...common,
      reason: body.reason,
      note: body.note,
    }));
  });

  app.post("/:device_id/assignments/:since/correct-patient", async (c) => {
    const body = decodeInput(CorrectPatientBody, await jsonBody(c));
    return correction(c, "correct-patient", body, (common) => ({
      _tag: "CorrectAssignmentPatient",
      ...common,
      patientId: body.patient_id,
      ...(body.patient_name !== undefined ? { patientName: body.patient_name } : {}),
      reason: body.reason,
      note: body.note,
    }));
  });

  app.post("/:device_id/assignments/:since/amend", async (c) => {
    const body = decodeInput(AmendBody, await jsonBody(c));
    return correction(c, "amend", body, (common) => ({
      _tag: "AmendAssignmentPeriod",
      ...common,
      ...(body.assignment_timestamp !== undefined ? { newStart: body.assignment_timestamp } : {}),
      ...(body.assignment_end !== undefined ? { newEnd: body.assignment_end } : {}),
      ...(body.move_adjoining ? { moveAdjoining: true } : {}),
      reason: body.reason,
      note: body.note,
    }));
  });

  return app;
};
