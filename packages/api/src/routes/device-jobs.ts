import { randomUUID } from "node:crypto";
import {
  changeSettings,
  createDeviceJob,
  DeviceId,
  type DeviceJob,
  type DeviceJobRequest,
  DeviceJobs,
  deviceJobs,
} from "@medusa/domain";
import { Effect } from "effect";
import { Hono } from "hono";
import type { Routes } from "../app.js";
import { type ApiEnv, type ApiPorts, requireRole } from "../context.js";
import type { ApiFailure } from "../errors.js";
import { decodeInput, decodeParam, jsonBody, noQuery } from "../input.js";
import { ProblemError, problem } from "../problems.js";
import { sendRevalidated } from "../revalidate.js";
import { DeviceJobBody, DeviceJobResponse, DeviceJobsResponse } from "../schemas.js";
import { send } from "../views.js";

const jobView = (j: DeviceJob) => ({
  job_id: j.jobId,
  device_id: j.deviceId,
  type: j.type ?? null,
  status: j.status,
  status_details: j.statusDetails,
  queued_at: j.queuedAt,
  started_at: j.startedAt ?? null,
  last_updated_at: j.lastUpdatedAt,
  version: j.versionNumber ?? null,
});

const requestOf = (body: typeof DeviceJobBody.Type): DeviceJobRequest => {
  switch (body.type) {
    case "config.set":
      return { type: "config.set", settings: changeSettings(body.settings) };
    case "agent.update":
      return {
        type: "agent.update",
        version: body.version,
        bundleKey: body.bundle_key,
        sha256: body.sha256,
      };
    case "agent.restart":
      return { type: "agent.restart" };
    case "outbox.flush":
      return { type: "outbox.flush" };
    case "certificate.rotate":
      return { type: "certificate.rotate" };
  }
};

/**
 * `/api/devices/{device_id}/jobs`: one-off work for a device through AWS IoT
 * Jobs (the local broker's emulation of it on one machine). A job is created
 * (201) queued; the device takes it when it next hears from Jobs, and reports.
 */
export const deviceJobsRoutes = ({ deps, run }: Routes) => {
  const app = new Hono<ApiEnv>();
  const withJobs = <A>(effect: Effect.Effect<A, ApiFailure, ApiPorts | DeviceJobs>) => {
    const jobs = deps.jobs;
    if (!jobs)
      throw new ProblemError(
        problem(503, "jobs-unavailable", "The Jobs service is unavailable", {
          detail: "this API is not connected to a Jobs service",
        }),
      );
    return run(
      Effect.provideService(effect, DeviceJobs, jobs) as Effect.Effect<A, ApiFailure, ApiPorts>,
    );
  };

  app.post("/:device_id/jobs", async (c) => {
    requireRole(c, "clinician");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const body = decodeInput(DeviceJobBody, await jsonBody(c));
    const job = await withJobs(createDeviceJob(deviceId, requestOf(body), randomUUID()));
    return send(c, DeviceJobResponse, jobView(job), 201);
  });

  app.get("/:device_id/jobs", async (c) => {
    requireRole(c, "viewer");
    const deviceId = decodeParam("device_id", DeviceId, c.req.param("device_id"));
    noQuery(c.req.query());
    const jobs = await withJobs(deviceJobs(deviceId));
    // The console polls the list: an unchanged list is a 304 with no body.
    return sendRevalidated(c, DeviceJobsResponse, { device_id: deviceId, jobs: jobs.map(jobView) });
  });

  return app;
};
