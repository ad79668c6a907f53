import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { presignedUrlPlaceholder } from "../jobs/document.js";
import { tempDirs } from "../testing/temp-dirs.js";
import { created, job, jobsServiceHarness, T0 } from "./jobs-service.fixture.js";
import { fileJobsPersistence } from "./jobs-store.js";

// The Jobs service's semantics, over its request handler, with a clock the test moves.
const dirs = tempDirs("medusa-jobs-");
const { services, make } = jobsServiceHarness();
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

const seconds = (ms: number) => Math.floor(ms / 1000);

describe("the Jobs service (device MQTT API)", () => {
  it("queues, notifies, starts, updates and finishes an execution as AWS documents it", async () => {
    const { service, clock, published, send, on } = make();
    await created(service, job("job-1"));
    // CreateJob: notify (the pending list) and notify-next (the next job changed).
    expect(on("$aws/things/pi-1/jobs/notify")).toEqual([
      {
        timestamp: seconds(T0),
        jobs: {
          QUEUED: [
            {
              jobId: "job-1",
              queuedAt: seconds(T0),
              lastUpdatedAt: seconds(T0),
              versionNumber: 1,
              executionNumber: 1,
            },
          ],
        },
      },
    ]);
    expect(on("$aws/things/pi-1/jobs/notify-next")).toEqual([
      {
        timestamp: seconds(T0),
        execution: {
          jobId: "job-1",
          thingName: "pi-1",
          status: "QUEUED",
          queuedAt: seconds(T0),
          lastUpdatedAt: seconds(T0),
          versionNumber: 1,
          executionNumber: 1,
          jobDocument: { operation: "agent.restart" },
        },
      },
    ]);
    published.length = 0;

    clock.now += 5_000;
    const get = await send("$aws/things/pi-1/jobs/get", { clientToken: "c-get" });
    expect(get.published).toEqual([
      {
        topic: "$aws/things/pi-1/jobs/get/accepted",
        body: {
          inProgressJobs: [],
          queuedJobs: [
            {
              jobId: "job-1",
              queuedAt: seconds(T0),
              lastUpdatedAt: seconds(T0),
              versionNumber: 1,
              executionNumber: 1,
            },
          ],
          timestamp: seconds(clock.now),
          clientToken: "c-get",
        },
      },
    ]);

    const start = await send("$aws/things/pi-1/jobs/start-next", {
      clientToken: "c-start",
      statusDetails: { step: "received" },
      stepTimeoutInMinutes: 5,
    });
    const started = {
      jobId: "job-1",
      thingName: "pi-1",
      status: "IN_PROGRESS",
      statusDetails: { step: "received" },
      queuedAt: seconds(T0),
      startedAt: seconds(clock.now),
      lastUpdatedAt: seconds(clock.now),
      versionNumber: 2,
      executionNumber: 1,
      approximateSecondsBeforeTimedOut: 300,
      jobDocument: { operation: "agent.restart" },
    };
    expect(start.published).toEqual([
      {
        topic: "$aws/things/pi-1/jobs/start-next/accepted",
        body: { execution: started, timestamp: seconds(clock.now), clientToken: "c-start" },
      },
      // QUEUED → IN_PROGRESS changes the list, not which job is next: notify only.
      {
        topic: "$aws/things/pi-1/jobs/notify",
        body: {
          timestamp: seconds(clock.now),
          jobs: {
            IN_PROGRESS: [
              {
                jobId: "job-1",
                queuedAt: seconds(T0),
                startedAt: seconds(clock.now),
                lastUpdatedAt: seconds(clock.now),
                versionNumber: 2,
                executionNumber: 1,
              },
            ],
          },
        },
      },
    ]);

    const mismatch = await send("$aws/things/pi-1/jobs/job-1/update", {
      status: "IN_PROGRESS",
      expectedVersion: 1,
      clientToken: "c-u1",
    });
    expect(mismatch.published).toEqual([
      {
        topic: "$aws/things/pi-1/jobs/job-1/update/rejected",
        body: {
          code: "VersionMismatch",
          message: expect.any(String),
          clientToken: "c-u1",
          timestamp: seconds(clock.now),
          executionState: {
            status: "IN_PROGRESS",
            statusDetails: { step: "received" },
            versionNumber: 2,
          },
        },
      },
    ]);

    clock.now += 1_000;
    const update = await send("$aws/things/pi-1/jobs/job-1/update", {
      status: "SUCCEEDED",
      statusDetails: { outcome: "restarted" },
      expectedVersion: 2,
      includeJobExecutionState: true,
      includeJobDocument: true,
      clientToken: "c-u2",
    });
    expect(update.published).toEqual([
      {
        topic: "$aws/things/pi-1/jobs/job-1/update/accepted",
        body: {
          executionState: {
            status: "SUCCEEDED",
            statusDetails: { outcome: "restarted" },
            versionNumber: 3,
          },
          jobDocument: { operation: "agent.restart" },
          timestamp: seconds(clock.now),
          clientToken: "c-u2",
        },
      },
      { topic: "$aws/things/pi-1/jobs/notify", body: { timestamp: seconds(clock.now), jobs: {} } },
      // Nothing is next any more: notify-next without an execution.
      { topic: "$aws/things/pi-1/jobs/notify-next", body: { timestamp: seconds(clock.now) } },
      // The Jobs event for rules and cloud services (events-jobs.html).
      {
        topic: "$aws/events/jobExecution/job-1/succeeded",
        body: {
          eventType: "JOB_EXECUTION",
          eventId: expect.stringMatching(/^[0-9a-f-]{36}$/),
          timestamp: seconds(clock.now),
          operation: "succeeded",
          jobId: "job-1",
          thingArn: "arn:aws:iot:local:000000000000:thing/pi-1",
          status: "SUCCEEDED",
          statusDetails: { outcome: "restarted" },
        },
      },
    ]);
    expect(service.describeJob("job-1")).toMatchObject({
      ok: true,
      value: { status: "COMPLETED" },
    });

    const again = await send("$aws/things/pi-1/jobs/job-1/update", {
      status: "IN_PROGRESS",
      clientToken: "c-u3",
    });
    expect(again.published[0]).toMatchObject({
      topic: "$aws/things/pi-1/jobs/job-1/update/rejected",
      body: {
        code: "InvalidStateTransition",
        clientToken: "c-u3",
        executionState: { status: "SUCCEEDED", versionNumber: 3 },
      },
    });
    const describe = await send("$aws/things/pi-1/jobs/job-1/get", { clientToken: "c-d" });
    expect(describe.published[0]).toMatchObject({
      topic: "$aws/things/pi-1/jobs/job-1/get/rejected",
      body: { code: "TerminalStateReached", clientToken: "c-d" },
    });
    const next = await send("$aws/things/pi-1/jobs/start-next", { clientToken: "c-n" });
    expect(next.published).toEqual([
      {
        topic: "$aws/things/pi-1/jobs/start-next/accepted",
        body: { timestamp: seconds(clock.now), clientToken: "c-n" },
      },
    ]);
  });

  it("answers malformed requests with the documented codes, echoing the clientToken", async () => {
    const { service, send } = make();
    await created(service, job("job-2"));
    const rejected = async (topic: string, payload: unknown) =>
      (await send(topic, payload)).published.find((p) => p.topic.endsWith("/rejected"))?.body;
    expect(await rejected("$aws/things/pi-1/jobs/get", "{nope")).toMatchObject({
      code: "InvalidJson",
    });
    expect(await rejected("$aws/things/pi-1/jobs/frobnicate", { clientToken: "t1" })).toMatchObject(
      { code: "InvalidTopic", clientToken: "t1" },
    );
    expect(
      await rejected("$aws/things/pi-1/jobs/job-2/update", {
        status: "SUCCEEDED",
        statusDetails: { "bad key": "x" },
        clientToken: "t2",
      }),
    ).toMatchObject({ code: "InvalidRequest", clientToken: "t2" });
    expect(
      await rejected("$aws/things/pi-1/jobs/job-2/update", {
        status: "CANCELED",
        clientToken: "t3",
      }),
    ).toMatchObject({ code: "InvalidRequest", clientToken: "t3" });
    expect(
      await rejected("$aws/things/pi-1/jobs/start-next", { stepTimeoutInMinutes: 0 }),
    ).toMatchObject({ code: "InvalidRequest" });
    expect(
      await rejected("$aws/things/pi-1/jobs/nope/update", {
        status: "SUCCEEDED",
        clientToken: "t4",
      }),
    ).toMatchObject({ code: "ResourceNotFound", clientToken: "t4" });
    expect(await rejected("$aws/things/pi-2/jobs/job-2/get", { clientToken: "t5" })).toMatchObject({
      code: "ResourceNotFound",
      clientToken: "t5",
    });
    expect(await rejected("$aws/things/pi-1/jobs/job-2/get", { executionNumber: 9 })).toMatchObject(
      { code: "ResourceNotFound" },
    );
    // A topic that is the service's own is not a request: not handled at all.
    expect((await send("$aws/things/pi-1/jobs/notify", {})).handled).toBe(false);
    const describeNext = await send("$aws/things/pi-1/jobs/$next/get", {
      includeJobDocument: false,
    });
    expect(describeNext.published[0]?.body).toMatchObject({
      execution: { jobId: "job-2", status: "QUEUED" },
    });
    expect(describeNext.published[0]?.body.execution).not.toHaveProperty("jobDocument");
  });

  it("times out on the step timer and on the job's in-progress timer", async () => {
    const { service, clock, send, on, published } = make();
    await created(
      service,
      job("slow", ["pi-1"], { timeoutConfig: { inProgressTimeoutInMinutes: 3 } }),
    );
    await created(service, job("next"));
    await send("$aws/things/pi-1/jobs/start-next", { stepTimeoutInMinutes: 1 });
    clock.now += 59_000;
    expect(service.expireTimeouts()).toBe(0);
    clock.now += 1_000;
    published.length = 0;
    expect(service.expireTimeouts()).toBe(1);
    await service.settled();
    expect(service.describeJobExecution("slow", "pi-1")).toMatchObject({
      ok: true,
      value: { execution: { status: "TIMED_OUT", versionNumber: 3 } },
    });
    expect(on("$aws/things/pi-1/jobs/notify-next")[0]).toMatchObject({
      execution: { jobId: "next", status: "QUEUED" },
    });
    // The in-progress timer: a new step timer longer than it does not extend it.
    await send("$aws/things/pi-1/jobs/start-next", {});
    await created(
      service,
      job("capped", ["pi-2"], { timeoutConfig: { inProgressTimeoutInMinutes: 3 } }),
    );
    const start = await send("$aws/things/pi-2/jobs/start-next", { stepTimeoutInMinutes: 60 });
    expect(start.published[0]?.body).toMatchObject({
      execution: { approximateSecondsBeforeTimedOut: 180 },
    });
    clock.now += 180_000;
    expect(service.expireTimeouts()).toBe(1);
    expect(service.describeJobExecution("capped", "pi-2")).toMatchObject({
      ok: true,
      value: { execution: { status: "TIMED_OUT" } },
    });
  });

  it("cancels QUEUED executions, IN_PROGRESS ones only with force", async () => {
    const { service, send } = make();
    await created(service, job("c1", ["pi-1", "pi-2"]));
    await send("$aws/things/pi-1/jobs/start-next", {});
    const canceled = await service.cancelJob("c1");
    expect(canceled).toMatchObject({ ok: true, value: { status: "CANCELED" } });
    expect(service.describeJobExecution("c1", "pi-1")).toMatchObject({
      value: { execution: { status: "IN_PROGRESS" } },
    });
    expect(service.describeJobExecution("c1", "pi-2")).toMatchObject({
      value: { execution: { status: "CANCELED", versionNumber: 2 } },
    });
    await service.cancelJob("c1", { force: true });
    expect(service.describeJobExecution("c1", "pi-1")).toMatchObject({
      value: { execution: { status: "CANCELED" } },
    });
    expect(await service.cancelJob("nope")).toMatchObject({
      ok: false,
      error: { code: "ResourceNotFoundException" },
    });
  });

  it("refuses jobs AWS refuses", async () => {
    const { service } = make();
    const refused = async (input: ReturnType<typeof job>) => {
      const r = await service.createJob(input);
      return r.ok ? undefined : r.error.code;
    };
    expect(await refused(job("bad id!"))).toBe("InvalidRequestException");
    expect(await refused(job("j", []))).toBe("InvalidRequestException");
    expect(await refused({ ...job("j"), document: "[1]" })).toBe("InvalidRequestException");
    expect(
      await refused({ ...job("j"), document: JSON.stringify({ pad: "x".repeat(32_768) }) }),
    ).toBe("InvalidRequestException");
    expect(
      await refused(job("j", ["pi-1"], { timeoutConfig: { inProgressTimeoutInMinutes: 10_081 } })),
    ).toBe("InvalidRequestException");
    // No resolver: presigned URLs cannot be made.
    expect(await refused(job("j", ["pi-1"], { presignedUrlConfig: {} }))).toBe(
      "InvalidRequestException",
    );
    await created(service, job("dup", ["arn:aws:iot:eu-west-1:123456789012:thing/pi-1"]));
    expect(service.listJobExecutionsForThing("pi-1").map((e) => e.jobId)).toEqual(["dup"]);
    expect(await refused(job("dup"))).toBe("ResourceAlreadyExistsException");
  });

  it("presigns the document's placeholders on each delivery, never in the stored job", async () => {
    let n = 0;
    const { service, send, on } = make({
      resolvePresignedUrl: (s3Url, { thingName, jobId, expiresInSec }) =>
        `https://local.test/bundles?u=${encodeURIComponent(s3Url)}&t=${thingName}&j=${jobId}&e=${expiresInSec}&n=${++n}`,
    });
    const url = presignedUrlPlaceholder("medusa-bundles", "agent-0.5.0.mjs");
    await created(service, {
      jobId: "upd",
      targets: ["pi-1"],
      document: JSON.stringify({
        operation: "agent.update",
        version: "0.5.0",
        url,
        sha256: "0".repeat(64),
      }),
      presignedUrlConfig: { roleArn: "arn:aws:iam::1:role/r", expiresInSec: 600 },
    } as never);
    expect(on("$aws/things/pi-1/jobs/notify-next")[0]).toMatchObject({
      execution: {
        jobDocument: {
          url: `https://local.test/bundles?u=${encodeURIComponent("https://s3.amazonaws.com/medusa-bundles/agent-0.5.0.mjs")}&t=pi-1&j=upd&e=600&n=1`,
        },
      },
    });
    const start = await send("$aws/things/pi-1/jobs/start-next", {});
    expect(start.published[0]?.body).toMatchObject({
      execution: { jobDocument: { url: expect.stringContaining("&n=2") } },
    });
    expect(service.describeJob("upd")).toMatchObject({ value: { document: { url } } });
  });

  it("keeps jobs and executions across a restart, and times out what ran out meanwhile", async () => {
    const file = join(dirs(), "jobs.json");
    const first = make({ persistence: fileJobsPersistence(file, { fsync: false }) });
    await created(first.service, job("kept", ["pi-1"]));
    await created(first.service, job("timed", ["pi-2"]));
    await first.send("$aws/things/pi-1/jobs/start-next", { statusDetails: { step: "1" } });
    await first.send("$aws/things/pi-2/jobs/start-next", { stepTimeoutInMinutes: 1 });
    await first.service.close();
    services.splice(services.indexOf(first.service), 1);

    const second = make({
      persistence: fileJobsPersistence(file, { fsync: false }),
      now: () => T0 + 120_000,
    });
    expect(second.service.describeJobExecution("kept", "pi-1")).toMatchObject({
      value: {
        execution: { status: "IN_PROGRESS", statusDetails: { step: "1" }, versionNumber: 2 },
      },
    });
    expect(second.service.describeJobExecution("timed", "pi-2")).toMatchObject({
      value: { execution: { status: "TIMED_OUT" } },
    });
    const update = await second.send("$aws/things/pi-1/jobs/kept/update", {
      status: "SUCCEEDED",
      expectedVersion: 2,
      includeJobExecutionState: true,
    });
    expect(
      update.published.find((p) => p.topic === "$aws/things/pi-1/jobs/kept/update/accepted")?.body,
    ).toMatchObject({ executionState: { versionNumber: 3 } });
  });
});
