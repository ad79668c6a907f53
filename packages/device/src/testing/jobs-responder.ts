// A scripted AWS IoT Jobs responder for the agent's tests: a cloud client on the local broker that
// answers the device's Jobs requests with the payloads and error codes AWS documents
// (https://docs.aws.amazon.com/iot/latest/developerguide/jobs-mqtt-api.html). Not the emulation:
// a small, controllable stand-in (queue jobs, go silent, see every request). A VersionMismatch
// is the emulation's to give (update.int.test.ts).
import { X509Certificate } from "node:crypto";
import type { DevCertFiles, RegisteredPrincipal } from "@medusa/adapters/broker";
import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import { DEFAULT_TOPIC_PREFIX, mayPublish, maySubscribe } from "@medusa/domain";
import { connectCloud, eventually } from "./testbed.js";

export interface TestExecution {
  jobId: string;
  thingName: string;
  jobDocument: unknown;
  status: string;
  statusDetails: Record<string, string>;
  versionNumber: number;
  executionNumber: number;
  queuedAt: number;
  startedAt?: number;
  lastUpdatedAt: number;
}

const TERMINAL = ["SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "REMOVED", "CANCELED"];
const now = () => Math.floor(Date.now() / 1000); // the Jobs MQTT API's timestamps are epoch seconds

/**
 * The IoT policy's rights plus the thing's own Jobs topics (the local broker's policy
 * has no Jobs yet): for the device certificates of `ids`.
 */
export const jobsPolicy =
  (ids: ReadonlyArray<string>) =>
  (der: Buffer): RegisteredPrincipal | undefined => {
    const cn = /CN=([^\n,]+)/.exec(new X509Certificate(der).subject)?.[1];
    if (cn === undefined || !ids.includes(cn)) return undefined;
    const own = `$aws/things/${cn}/jobs/`;
    const verdict = (ok: boolean, what: string) =>
      ok ? ({ allowed: true } as const) : ({ allowed: false, reason: `${cn}: ${what}` } as const);
    return {
      kind: "restricted",
      name: cn,
      mayConnect: (clientId) => verdict(clientId === cn, "client id must be the thing name"),
      mayPublish: (topic) =>
        verdict(
          mayPublish(DEFAULT_TOPIC_PREFIX, cn, topic).allowed || topic.startsWith(own),
          `may not publish to ${topic}`,
        ),
      maySubscribe: (filter) =>
        verdict(
          maySubscribe(DEFAULT_TOPIC_PREFIX, cn, filter).allowed ||
            (filter.startsWith(own) && !/[+#]/.test(filter)),
          `may not subscribe to ${filter}`,
        ),
    };
  };

export const startJobsResponder = async (certs: DevCertFiles, port: number) => {
  const cloud: MqttConnectionService = connectCloud(certs, port);
  await eventually(() => cloud.connected, "the Jobs responder connected");
  const executions = new Map<string, Array<TestExecution>>();
  const requests: Array<{ topic: string; body: Record<string, unknown> }> = [];
  let silent = false;

  const of = (thing: string) => {
    const list = executions.get(thing) ?? [];
    executions.set(thing, list);
    return list;
  };
  const view = (e: TestExecution, withDocument = true) => ({
    jobId: e.jobId,
    thingName: e.thingName,
    ...(withDocument ? { jobDocument: e.jobDocument } : {}),
    status: e.status,
    statusDetails: e.statusDetails,
    queuedAt: e.queuedAt,
    ...(e.startedAt !== undefined ? { startedAt: e.startedAt } : {}),
    lastUpdatedAt: e.lastUpdatedAt,
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber,
  });
  const next = (thing: string) =>
    of(thing).find((e) => e.status === "IN_PROGRESS") ??
    of(thing).find((e) => e.status === "QUEUED");
  const send = (thing: string, rest: string, body: Record<string, unknown>) =>
    cloud.publish(`$aws/things/${thing}/jobs/${rest}`, JSON.stringify(body));
  const reject = (
    thing: string,
    rest: string,
    token: unknown,
    code: string,
    message: string,
    extra: Record<string, unknown> = {},
  ) =>
    send(thing, `${rest}/rejected`, {
      code,
      message,
      timestamp: now(),
      ...(typeof token === "string" ? { clientToken: token } : {}),
      ...extra,
    });
  const notifyNext = (thing: string) => {
    const e = next(thing);
    return send(thing, "notify-next", {
      timestamp: now(),
      ...(e ? { execution: view(e) } : {}),
    });
  };

  const onRequest = async (topic: string, payload: Uint8Array) => {
    const levels = topic.split("/");
    const thing = levels[2] as string;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.from(payload).toString()) as Record<string, unknown>;
    } catch {
      return reject(thing, levels.slice(4).join("/"), undefined, "InvalidJson", "invalid JSON");
    }
    requests.push({ topic, body });
    if (silent) return;
    const token = body.clientToken;
    const answer = (rest: string, b: Record<string, unknown>) =>
      send(thing, `${rest}/accepted`, {
        timestamp: now(),
        ...(typeof token === "string" ? { clientToken: token } : {}),
        ...b,
      });
    if (levels[4] === "start-next") {
      const e = next(thing);
      if (!e) return answer("start-next", {});
      if (e.status === "QUEUED") {
        e.status = "IN_PROGRESS";
        e.startedAt = now();
        e.versionNumber++;
        e.lastUpdatedAt = now();
        if (body.statusDetails) e.statusDetails = body.statusDetails as Record<string, string>;
      }
      return answer("start-next", { execution: view(e) });
    }
    const jobId = levels[4] as string;
    const e = of(thing).find((x) => x.jobId === jobId);
    const rest = `${jobId}/${levels[5]}`;
    if (!e) return reject(thing, rest, token, "ResourceNotFound", `job ${jobId} not found`);
    if (levels[5] === "get")
      return answer(rest, { execution: view(e, body.includeJobDocument !== false) });
    // update
    const state = {
      status: e.status,
      statusDetails: e.statusDetails,
      versionNumber: e.versionNumber,
    };
    if (TERMINAL.includes(e.status))
      return reject(thing, rest, token, "TerminalStateReached", `the execution is ${e.status}`);
    if (body.expectedVersion !== undefined && body.expectedVersion !== e.versionNumber)
      return reject(thing, rest, token, "VersionMismatch", "the expected version does not match", {
        executionState: state,
      });
    const status = String(body.status);
    if (!["IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED"].includes(status))
      return reject(thing, rest, token, "InvalidRequest", `status ${status}`);
    e.status = status;
    if (body.statusDetails) e.statusDetails = body.statusDetails as Record<string, string>;
    e.versionNumber++;
    e.lastUpdatedAt = now();
    await answer(rest, {
      ...(body.includeJobExecutionState
        ? {
            executionState: {
              status: e.status,
              statusDetails: e.statusDetails,
              versionNumber: e.versionNumber,
            },
          }
        : {}),
    });
    if (TERMINAL.includes(e.status) && next(thing)) await notifyNext(thing);
  };

  for (const filter of [
    "$aws/things/+/jobs/start-next",
    "$aws/things/+/jobs/+/get",
    "$aws/things/+/jobs/+/update",
  ])
    await cloud.subscribe(filter, (topic, payload) => {
      onRequest(topic, payload).catch(() => {});
    });

  return {
    executions,
    requests,
    /** Stop answering (a service that lost the requests), or answer again. */
    setSilent: (value: boolean) => {
      silent = value;
    },
    /** Creates a job for a thing (QUEUED); notify-next when it is the next one. */
    createJob: async (thing: string, jobId: string, jobDocument: unknown) => {
      const wasNext = next(thing);
      of(thing).push({
        jobId,
        thingName: thing,
        jobDocument,
        status: "QUEUED",
        statusDetails: {},
        versionNumber: 1,
        executionNumber: 1,
        queuedAt: now(),
        lastUpdatedAt: now(),
      });
      if (!wasNext) await notifyNext(thing);
    },
    execution: (thing: string, jobId: string) => of(thing).find((e) => e.jobId === jobId),
    close: () => cloud.close(),
  };
};
