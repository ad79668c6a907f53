import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { ExecutionRecord } from "../jobs/execution.js";
import { timeoutAt } from "../jobs/execution.js";
import type { ControlPlaneError, JobRecord, JobsService } from "./jobs-service.js";

/** The account and region the local things' ARNs name. */
export const LOCAL_ACCOUNT = "000000000000";
export const LOCAL_REGION = "local";
export const localThingArn = (thing: string) =>
  `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:thing/${thing}`;
const jobArn = (jobId: string) => `arn:aws:iot:${LOCAL_REGION}:${LOCAL_ACCOUNT}:job/${jobId}`;

const STATUS: Readonly<Record<ControlPlaneError["code"], number>> = {
  InvalidRequestException: 400,
  ResourceNotFoundException: 404,
  ResourceAlreadyExistsException: 409,
  InvalidStateTransitionException: 409,
  VersionConflictException: 409,
  LimitExceededException: 410,
};

export interface JobsControlPlane {
  /** `http://127.0.0.1:{port}`: the endpoint an `IoTClient` is given. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** Control-plane timestamps are epoch seconds (fractional) in AWS IoT's REST JSON. */
const sec = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

const executionBody = (e: ExecutionRecord, job: JobRecord, now: number) => {
  const deadline = timeoutAt(e);
  return {
    jobId: e.jobId,
    status: e.status,
    forceCanceled: job.forceCanceled === true && e.status === "CANCELED",
    statusDetails: { detailsMap: e.statusDetails ?? {} },
    thingArn: localThingArn(e.thingName),
    queuedAt: sec(e.queuedAt),
    ...(e.startedAt !== undefined ? { startedAt: sec(e.startedAt) } : {}),
    lastUpdatedAt: sec(e.lastUpdatedAt),
    executionNumber: e.executionNumber,
    versionNumber: e.versionNumber,
    ...(deadline !== undefined
      ? { approximateSecondsBeforeTimedOut: Math.max(0, Math.ceil((deadline - now) / 1000)) }
      : {}),
  };
};

/**
 * AWS IoT's control plane for Jobs over HTTP, as `@aws-sdk/client-iot` calls
 * it: DescribeThing (`GET /things/{thingName}`: every valid thing name is a
 * thing here), CreateJob (`PUT /jobs/{jobId}`), CancelJob
 * (`PUT /jobs/{jobId}/cancel`), CancelJobExecution
 * (`PUT /things/{thingName}/jobs/{jobId}/cancel`), DescribeJob (`GET /jobs/{jobId}`), GetJobDocument
 * (`GET /jobs/{jobId}/job-document`),
 * ListJobExecutionsForThing (`GET /things/{thingName}/jobs`) and
 * DescribeJobExecution (`GET /things/{thingName}/jobs/{jobId}`), answered by
 * the emulated Jobs service. On 127.0.0.1 only, signatures not checked: a
 * development stand-in, like the shadow data plane.
 */
export const startJobsControlPlane = async (
  service: JobsService,
  options: { readonly port?: number; readonly now?: () => number } = {},
): Promise<JobsControlPlane> => {
  const now = options.now ?? Date.now;
  const server = createServer((req, res) => {
    handle(service, now, req, res).catch((e: unknown) =>
      send(res, 500, { message: String(e) }, "InternalFailureException"),
    );
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () =>
      resolve((server.address() as AddressInfo).port),
    );
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
};

const send = (res: ServerResponse, status: number, body: unknown, errorType?: string) => {
  if (res.headersSent) return;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (errorType) headers["x-amzn-errortype"] = errorType;
  res.writeHead(status, headers).end(JSON.stringify(body));
};

const refuse = (res: ServerResponse, error: ControlPlaneError) =>
  send(res, STATUS[error.code], { message: error.message }, error.code);

const readJson = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
  const chunks: Array<Buffer> = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1024 * 1024) throw new Error("request body too large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  const json: unknown = text.trim() === "" ? {} : JSON.parse(text);
  return typeof json === "object" && json !== null && !Array.isArray(json)
    ? (json as Record<string, unknown>)
    : {};
};

const THING = /^[a-zA-Z0-9:_-]{1,128}$/;

const handle = async (
  service: JobsService,
  now: () => number,
  req: IncomingMessage,
  res: ServerResponse,
) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  const parts = url.pathname.split("/").slice(1).map(decodeURIComponent);
  const method = req.method ?? "GET";
  const notFound = () =>
    refuse(res, {
      code: "ResourceNotFoundException",
      message: `no such resource: ${method} ${url.pathname}`,
    });

  if (parts[0] === "things" && parts[1] !== undefined) {
    const thing = parts[1];
    if (!THING.test(thing)) return notFound();
    if (parts.length === 2 && method === "GET")
      return send(res, 200, {
        thingName: thing,
        thingArn: localThingArn(thing),
        thingId: thing,
        attributes: {},
        version: 1,
      });
    if (parts[2] === "jobs" && parts.length === 3 && method === "GET") {
      const status = url.searchParams.get("status") ?? undefined;
      const jobId = url.searchParams.get("jobId") ?? undefined;
      const max = Number(url.searchParams.get("maxResults") ?? "100");
      const offset = Number(url.searchParams.get("nextToken") ?? "0");
      const all = service.listJobExecutionsForThing(thing, {
        ...(status !== undefined ? { status } : {}),
        ...(jobId !== undefined ? { jobId } : {}),
      });
      const page = all.slice(offset, offset + max);
      return send(res, 200, {
        executionSummaries: page.map((e) => ({
          jobId: e.jobId,
          jobExecutionSummary: {
            status: e.status,
            queuedAt: sec(e.queuedAt),
            ...(e.startedAt !== undefined ? { startedAt: sec(e.startedAt) } : {}),
            lastUpdatedAt: sec(e.lastUpdatedAt),
            executionNumber: e.executionNumber,
            retryAttempt: e.retryAttempt ?? 0,
          },
        })),
        ...(offset + max < all.length ? { nextToken: String(offset + max) } : {}),
      });
    }
    if (
      parts[2] === "jobs" &&
      parts[3] !== undefined &&
      parts[4] === "cancel" &&
      method === "PUT"
    ) {
      if (parts.length !== 5) return notFound();
      const body = await readJson(req);
      const details = body.statusDetails;
      const statusDetails =
        typeof details === "object" && details !== null && !Array.isArray(details)
          ? Object.fromEntries(
              Object.entries(details).filter(
                (kv): kv is [string, string] => typeof kv[1] === "string",
              ),
            )
          : undefined;
      const r = await service.cancelJobExecution(parts[3], thing, {
        force: url.searchParams.get("force") === "true",
        ...(typeof body.expectedVersion === "number"
          ? { expectedVersion: body.expectedVersion }
          : {}),
        ...(statusDetails !== undefined ? { statusDetails } : {}),
      });
      if (!r.ok) return refuse(res, r.error);
      return send(res, 200, {});
    }
    if (parts[2] === "jobs" && parts[3] !== undefined && parts.length === 4 && method === "GET") {
      const n = url.searchParams.get("executionNumber");
      const r = service.describeJobExecution(parts[3], thing, n === null ? undefined : Number(n));
      if (!r.ok) return refuse(res, r.error);
      return send(res, 200, { execution: executionBody(r.value.execution, r.value.job, now()) });
    }
    return notFound();
  }
  if (parts[0] === "jobs" && parts[1] !== undefined) {
    const jobId = parts[1];
    if (parts.length === 2 && method === "PUT") {
      const body = await readJson(req);
      const targets = Array.isArray(body.targets)
        ? body.targets.filter((t): t is string => typeof t === "string")
        : [];
      const r = await service.createJob({
        jobId,
        targets,
        document: typeof body.document === "string" ? body.document : "",
        ...(typeof body.description === "string" ? { description: body.description } : {}),
        // The configs are checked by the service, as AWS checks them.
        ...(body.timeoutConfig !== undefined ? { timeoutConfig: body.timeoutConfig } : {}),
        ...(body.presignedUrlConfig !== undefined
          ? { presignedUrlConfig: body.presignedUrlConfig }
          : {}),
        ...(body.jobExecutionsRetryConfig !== undefined
          ? { jobExecutionsRetryConfig: body.jobExecutionsRetryConfig }
          : {}),
        ...(body.abortConfig !== undefined ? { abortConfig: body.abortConfig } : {}),
      });
      if (!r.ok) return refuse(res, r.error);
      return send(res, 200, {
        jobArn: jobArn(jobId),
        jobId,
        ...(r.value.description !== undefined ? { description: r.value.description } : {}),
      });
    }
    if (parts.length === 3 && parts[2] === "cancel" && method === "PUT") {
      const body = await readJson(req);
      const r = await service.cancelJob(jobId, {
        force: url.searchParams.get("force") === "true",
        ...(typeof body.comment === "string" ? { comment: body.comment } : {}),
        ...(typeof body.reasonCode === "string" ? { reasonCode: body.reasonCode } : {}),
      });
      if (!r.ok) return refuse(res, r.error);
      return send(res, 200, { jobArn: jobArn(jobId), jobId });
    }
    if (parts.length === 3 && parts[2] === "job-document" && method === "GET") {
      const r = service.describeJob(jobId);
      if (!r.ok) return refuse(res, r.error);
      return send(res, 200, { document: JSON.stringify(r.value.document) });
    }
    if (parts.length === 2 && method === "GET") {
      const r = service.describeJob(jobId);
      if (!r.ok) return refuse(res, r.error);
      const j = r.value;
      return send(res, 200, {
        job: {
          jobArn: jobArn(j.jobId),
          jobId: j.jobId,
          targetSelection: "SNAPSHOT",
          status: j.status,
          forceCanceled: j.forceCanceled === true,
          targets: j.targets.map(localThingArn),
          ...(j.description !== undefined ? { description: j.description } : {}),
          createdAt: sec(j.createdAt),
          lastUpdatedAt: sec(j.lastUpdatedAt),
          ...(j.completedAt !== undefined ? { completedAt: sec(j.completedAt) } : {}),
          ...(j.inProgressTimeoutInMinutes !== undefined
            ? { timeoutConfig: { inProgressTimeoutInMinutes: j.inProgressTimeoutInMinutes } }
            : {}),
          ...(j.jobExecutionsRetryConfig !== undefined
            ? { jobExecutionsRetryConfig: j.jobExecutionsRetryConfig }
            : {}),
          ...(j.abortConfig !== undefined ? { abortConfig: j.abortConfig } : {}),
          ...(j.comment !== undefined ? { comment: j.comment } : {}),
          ...(j.reasonCode !== undefined ? { reasonCode: j.reasonCode } : {}),
        },
      });
    }
  }
  return notFound();
};
