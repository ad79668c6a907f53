import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tempDirs } from "../testing/temp-dirs.js";
import { created, job, jobsServiceHarness, T0 } from "./jobs-service.fixture.js";
import { type CreateJobInput, JobsService } from "./jobs-service.js";
import { fileJobsPersistence } from "./jobs-store.js";

// CreateJob's jobExecutionsRetryConfig and abortConfig in the emulated Jobs
// service, as AWS IoT documents them, with a clock the test moves.
const dirs = tempDirs("medusa-jobs-configs-");
const { services, make } = jobsServiceHarness();
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});

const refusal = async (service: JobsService, input: CreateJobInput) => {
  const r = await service.createJob(input);
  return r.ok ? undefined : r.error;
};

/** The device starts its next job and ends it with `status`. */
const runAndEnd = async (
  send: ReturnType<typeof make>["send"],
  thing: string,
  jobId: string,
  status: "FAILED" | "REJECTED" | "SUCCEEDED",
) => {
  await send(`$aws/things/${thing}/jobs/start-next`, {});
  return send(`$aws/things/${thing}/jobs/${jobId}/update`, { status });
};

describe("jobExecutionsRetryConfig", () => {
  it("queues a FAILED execution again with the next execution number and its retry attempt, until the retries are spent", async () => {
    const { service, send, on } = make();
    await created(
      service,
      job("r1", ["pi-1"], {
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 2 }] },
      }),
    );
    await runAndEnd(send, "pi-1", "r1", "FAILED");
    // notify-next names the new execution: same job, execution number 2, QUEUED, version 1.
    expect(on("$aws/things/pi-1/jobs/notify-next")).toEqual([
      expect.objectContaining({
        execution: expect.objectContaining({
          jobId: "r1",
          status: "QUEUED",
          executionNumber: 2,
          versionNumber: 1,
        }),
      }),
    ]);
    expect(on("$aws/events/jobExecution/r1/failed")).toHaveLength(1);
    expect(service.describeJob("r1")).toMatchObject({ value: { status: "IN_PROGRESS" } });
    await runAndEnd(send, "pi-1", "r1", "FAILED");
    await runAndEnd(send, "pi-1", "r1", "FAILED");
    // Two retries, three attempts; the third failure ends the job.
    expect(
      service
        .listJobExecutionsForThing("pi-1")
        .map((e) => [e.executionNumber, e.retryAttempt ?? 0, e.status]),
    ).toEqual([
      [1, 0, "FAILED"],
      [2, 1, "FAILED"],
      [3, 2, "FAILED"],
    ]);
    expect(on("$aws/things/pi-1/jobs/notify-next")).toEqual([{ timestamp: expect.any(Number) }]);
    expect(service.describeJob("r1")).toMatchObject({ value: { status: "COMPLETED" } });
  });

  it("retries a TIMED_OUT execution under TIMED_OUT or ALL, never a REJECTED one", async () => {
    const { service, clock, send } = make();
    await created(
      service,
      job("t1", ["pi-1"], {
        timeoutConfig: { inProgressTimeoutInMinutes: 1 },
        jobExecutionsRetryConfig: {
          criteriaList: [{ failureType: "TIMED_OUT", numberOfRetries: 1 }],
        },
      }),
    );
    await send("$aws/things/pi-1/jobs/start-next", {});
    clock.now += 60_000;
    expect(service.expireTimeouts()).toBe(1);
    await service.settled();
    expect(service.describeJobExecution("t1", "pi-1")).toMatchObject({
      value: { execution: { status: "QUEUED", executionNumber: 2, retryAttempt: 1 } },
    });
    // A FAILED end is not retried: only TIMED_OUT is in the criteria.
    await runAndEnd(send, "pi-1", "t1", "FAILED");
    expect(service.listJobExecutionsForThing("pi-1")).toHaveLength(2);

    await created(
      service,
      job("a1", ["pi-2"], {
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "ALL", numberOfRetries: 5 }] },
      }),
    );
    await runAndEnd(send, "pi-2", "a1", "REJECTED");
    expect(service.listJobExecutionsForThing("pi-2").map((e) => e.status)).toEqual(["REJECTED"]);
  });

  it("counts each failure type against its own criterion", async () => {
    const { service, clock, send } = make();
    await created(
      service,
      job("m1", ["pi-1"], {
        timeoutConfig: { inProgressTimeoutInMinutes: 1 },
        jobExecutionsRetryConfig: {
          criteriaList: [
            { failureType: "FAILED", numberOfRetries: 1 },
            { failureType: "TIMED_OUT", numberOfRetries: 1 },
          ],
        },
      }),
    );
    await runAndEnd(send, "pi-1", "m1", "FAILED");
    await send("$aws/things/pi-1/jobs/start-next", {});
    clock.now += 60_000;
    service.expireTimeouts();
    await service.settled();
    await runAndEnd(send, "pi-1", "m1", "FAILED");
    expect(service.listJobExecutionsForThing("pi-1").map((e) => e.status)).toEqual([
      "FAILED",
      "TIMED_OUT",
      "FAILED",
    ]);
  });

  it("does not retry once the job is canceled", async () => {
    const { service, send } = make();
    await created(
      service,
      job("c1", ["pi-1"], {
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "ALL", numberOfRetries: 3 }] },
      }),
    );
    await send("$aws/things/pi-1/jobs/start-next", {});
    await service.cancelJob("c1");
    await send("$aws/things/pi-1/jobs/c1/update", { status: "FAILED" });
    expect(service.listJobExecutionsForThing("pi-1")).toHaveLength(1);
  });

  it("is refused at CreateJob outside AWS's ranges, with AWS's validation message", async () => {
    const { service } = make();
    const retry = (criteriaList: unknown) =>
      refusal(
        service,
        job("bad", ["pi-1"], { jobExecutionsRetryConfig: { criteriaList } as never }),
      );
    expect(await retry([{ failureType: "FAILED", numberOfRetries: 11 }])).toEqual({
      code: "InvalidRequestException",
      message:
        "1 validation error detected: Value '11' at 'jobExecutionsRetryConfig.criteriaList.1.member.numberOfRetries' failed to satisfy constraint: Member must have value less than or equal to 10 and greater than or equal to 0",
    });
    expect((await retry([{ failureType: "REJECTED", numberOfRetries: 1 }]))?.message).toContain(
      "Member must satisfy enum value set: [FAILED, TIMED_OUT, ALL]",
    );
    expect((await retry([]))?.code).toBe("InvalidRequestException");
    expect(
      (
        await retry([
          { failureType: "FAILED", numberOfRetries: 1 },
          { failureType: "TIMED_OUT", numberOfRetries: 1 },
          { failureType: "ALL", numberOfRetries: 1 },
        ])
      )?.message,
    ).toContain("Member must have length less than or equal to 2");
    expect(
      await retry([
        { failureType: "FAILED", numberOfRetries: -1 },
        { failureType: "TIMED_OUT", numberOfRetries: 1.5 },
      ]),
    ).toMatchObject({ message: expect.stringMatching(/^2 validation errors detected: /) });
    expect(await retry([{ failureType: "FAILED", numberOfRetries: 0 }])).toBeUndefined();
  });
});

describe("abortConfig", () => {
  const abort = (
    failureType: string,
    thresholdPercentage: number,
    minNumberOfExecutedThings: number,
  ) =>
    ({
      criteriaList: [
        { failureType, action: "CANCEL", thresholdPercentage, minNumberOfExecutedThings },
      ],
    }) as CreateJobInput["abortConfig"] & object;

  it("cancels the job and its pending executions once the failed share reaches the threshold among enough executed things", async () => {
    const { service, send, on, published } = make();
    await created(
      service,
      job("ab", ["pi-1", "pi-2", "pi-3", "pi-4"], { abortConfig: abort("FAILED", 50, 2) }),
    );
    await runAndEnd(send, "pi-1", "ab", "FAILED");
    // One executed thing: under minNumberOfExecutedThings, no abort at 100 %.
    expect(service.describeJob("ab")).toMatchObject({ value: { status: "IN_PROGRESS" } });
    await send("$aws/things/pi-2/jobs/start-next", {});
    await send("$aws/things/pi-3/jobs/start-next", {});
    // Executed: pi-1 (FAILED), pi-2, pi-3 (IN_PROGRESS): 33 %.
    await send("$aws/things/pi-2/jobs/ab/update", { status: "SUCCEEDED" });
    expect(service.describeJob("ab")).toMatchObject({ value: { status: "IN_PROGRESS" } });
    published.length = 0;
    await send("$aws/things/pi-3/jobs/ab/update", { status: "FAILED" });
    // pi-1 and pi-3 failed out of 3 executed: 66.67 % ≥ 50 %.
    expect(service.describeJob("ab")).toMatchObject({
      value: { status: "CANCELED", abortedBy: { failureType: "FAILED", thresholdPercentage: 50 } },
    });
    expect(service.describeJobExecution("ab", "pi-4")).toMatchObject({
      value: { execution: { status: "CANCELED" } },
    });
    expect(on("$aws/things/pi-4/jobs/notify-next")).toEqual([{ timestamp: expect.any(Number) }]);
    expect(on("$aws/events/jobExecution/ab/canceled")).toHaveLength(1);
  });

  it("cancels IN_PROGRESS executions too, and stops the retries", async () => {
    const { service, send } = make();
    await created(
      service,
      job("ab2", ["pi-1", "pi-2"], {
        abortConfig: abort("ALL", 50, 2),
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 1 }] },
      }),
    );
    await send("$aws/things/pi-2/jobs/start-next", {});
    await runAndEnd(send, "pi-1", "ab2", "FAILED");
    // The retry is queued: pi-1 has not failed for good, no abort yet.
    expect(service.describeJob("ab2")).toMatchObject({ value: { status: "IN_PROGRESS" } });
    await runAndEnd(send, "pi-1", "ab2", "REJECTED");
    expect(service.describeJob("ab2")).toMatchObject({ value: { status: "CANCELED" } });
    expect(service.describeJobExecution("ab2", "pi-2")).toMatchObject({
      value: { execution: { status: "CANCELED" } },
    });
  });

  it("is refused at CreateJob outside AWS's ranges", async () => {
    const { service } = make();
    const bad = async (config: unknown) =>
      (await refusal(service, job("bad", ["pi-1"], { abortConfig: config as never })))?.message;
    expect(await bad(abort("SUCCEEDED", 10, 1))).toContain(
      "Member must satisfy enum value set: [FAILED, REJECTED, TIMED_OUT, ALL]",
    );
    expect(await bad(abort("FAILED", 100.01, 1))).toContain("thresholdPercentage");
    expect(await bad(abort("FAILED", 10.999, 1))).toContain("two digits after the decimal point");
    expect(await bad(abort("FAILED", 10, 0))).toContain(
      "'abortConfig.criteriaList.1.member.minNumberOfExecutedThings' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    expect(
      await bad({
        criteriaList: [
          {
            failureType: "FAILED",
            action: "PAUSE",
            thresholdPercentage: 1,
            minNumberOfExecutedThings: 1,
          },
        ],
      }),
    ).toContain("[CANCEL]");
    expect(await bad({ criteriaList: [] })).toContain("greater than or equal to 1");
    expect(await bad(abort("FAILED", 10.99, 1))).toBeUndefined();
  });
});

describe("timeoutConfig and presignedUrlConfig", () => {
  it("are refused at CreateJob outside AWS's ranges, with AWS's validation message", async () => {
    const { service } = make({ resolvePresignedUrl: (u) => u });
    const bad = (extra: Partial<CreateJobInput>) => refusal(service, job("bad", ["pi-1"], extra));
    expect(await bad({ timeoutConfig: { inProgressTimeoutInMinutes: 0 } })).toEqual({
      code: "InvalidRequestException",
      message:
        "1 validation error detected: Value '0' at 'timeoutConfig.inProgressTimeoutInMinutes' failed to satisfy constraint: Member must have value less than or equal to 10080 and greater than or equal to 1",
    });
    expect((await bad({ timeoutConfig: { inProgressTimeoutInMinutes: 1.5 } }))?.message).toContain(
      "Value '1.5' at 'timeoutConfig.inProgressTimeoutInMinutes'",
    );
    expect((await bad({ timeoutConfig: "10" }))?.message).toBe(
      "1 validation error detected: Value '10' at 'timeoutConfig' failed to satisfy constraint: Member must be a structure",
    );
    expect(await bad({ presignedUrlConfig: { expiresInSec: 3601 } })).toEqual({
      code: "InvalidRequestException",
      message:
        "1 validation error detected: Value '3601' at 'presignedUrlConfig.expiresInSec' failed to satisfy constraint: Member must have value less than or equal to 3600 and greater than or equal to 60",
    });
    expect(await bad({ presignedUrlConfig: { roleArn: "arn:short", expiresInSec: 59 } })).toEqual({
      code: "InvalidRequestException",
      message:
        "2 validation errors detected: Value 'arn:short' at 'presignedUrlConfig.roleArn' failed to satisfy constraint: Member must have length less than or equal to 2048 and greater than or equal to 20; Value '59' at 'presignedUrlConfig.expiresInSec' failed to satisfy constraint: Member must have value less than or equal to 3600 and greater than or equal to 60",
    });
    expect(await bad({ presignedUrlConfig: [] })).toMatchObject({
      message: expect.stringContaining("at 'presignedUrlConfig' failed to satisfy constraint"),
    });
    // Within the ranges: taken, the timer and the expiry as given (3600 s when absent).
    await created(
      service,
      job("ok", ["pi-1"], {
        timeoutConfig: { inProgressTimeoutInMinutes: 10_080 },
        presignedUrlConfig: { roleArn: "arn:aws:iam::1:role/presign", expiresInSec: 60 },
      }),
    );
    expect(service.describeJob("ok")).toMatchObject({
      value: { inProgressTimeoutInMinutes: 10_080, presignedUrlExpiresInSec: 60 },
    });
    await created(service, job("ok-default", ["pi-1"], { presignedUrlConfig: {} }));
    expect(service.describeJob("ok-default")).toMatchObject({
      value: { presignedUrlExpiresInSec: 3600 },
    });
  });
});

describe("the configs across a restart", () => {
  it("keeps the configs, the retry attempts and an abort", async () => {
    const file = join(dirs(), "jobs.json");
    const first = make({ persistence: fileJobsPersistence(file, { fsync: false }) });
    await created(
      first.service,
      job("kept", ["pi-1", "pi-2", "pi-3"], {
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 1 }] },
        abortConfig: abort2(),
      }),
    );
    await runAndEnd(first.send, "pi-1", "kept", "FAILED");
    await first.service.close();
    services.splice(services.indexOf(first.service), 1);

    const second = make({ persistence: fileJobsPersistence(file, { fsync: false }) });
    expect(second.service.describeJob("kept")).toMatchObject({
      value: {
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "FAILED", numberOfRetries: 1 }] },
        abortConfig: abort2(),
      },
    });
    expect(second.service.describeJobExecution("kept", "pi-1")).toMatchObject({
      value: { execution: { executionNumber: 2, retryAttempt: 1, status: "QUEUED" } },
    });
    // The retry budget survived: a second failure is final and trips the abort (1 of 2 executed ≥ 50 %).
    await runAndEnd(second.send, "pi-2", "kept", "SUCCEEDED");
    await runAndEnd(second.send, "pi-1", "kept", "FAILED");
    expect(second.service.listJobExecutionsForThing("pi-1")).toHaveLength(2);
    expect(second.service.describeJob("kept")).toMatchObject({ value: { status: "CANCELED" } });
    expect(second.service.describeJobExecution("kept", "pi-3")).toMatchObject({
      value: { execution: { status: "CANCELED" } },
    });
  });
});

function abort2() {
  return {
    criteriaList: [
      {
        failureType: "FAILED" as const,
        action: "CANCEL" as const,
        thresholdPercentage: 50,
        minNumberOfExecutedThings: 2,
      },
    ],
  };
}

describe("RequestThrottled", () => {
  it("answers a request over its operation's rate with the documented error, and admits again as the bucket refills", async () => {
    const { service, clock, send } = make({ throttle: { requestsPerSecond: 2 } });
    await created(service, job("th", ["pi-1"]));
    const get = (token: string) =>
      send("$aws/things/pi-1/jobs/get", { clientToken: token }).then((r) => r.published[0]);
    expect((await get("g1"))?.topic).toBe("$aws/things/pi-1/jobs/get/accepted");
    expect((await get("g2"))?.topic).toBe("$aws/things/pi-1/jobs/get/accepted");
    expect(await get("g3")).toEqual({
      topic: "$aws/things/pi-1/jobs/get/rejected",
      body: {
        code: "RequestThrottled",
        message: "The request was throttled.",
        clientToken: "g3",
        timestamp: Math.floor(T0 / 1000),
      },
    });
    // Each operation has its own rate: start-next still goes through.
    const started = await send("$aws/things/pi-1/jobs/start-next", { clientToken: "s1" });
    expect(started.published[0]?.topic).toBe("$aws/things/pi-1/jobs/start-next/accepted");
    // Half a second later, one more token.
    clock.now += 500;
    expect((await get("g4"))?.topic).toBe("$aws/things/pi-1/jobs/get/accepted");
    expect((await get("g5"))?.topic).toBe("$aws/things/pi-1/jobs/get/rejected");
    expect(service.stats()).toMatchObject({ throttled: 2 });
    // Nothing changed for a throttled update.
    const update = await send("$aws/things/pi-1/jobs/th/update", { status: "SUCCEEDED" });
    expect(update.published[0]?.topic).toBe("$aws/things/pi-1/jobs/th/update/accepted");
  });

  it("allows AWS's default of 200 requests per second per operation", async () => {
    const answers: Array<string> = [];
    const quiet = new JobsService({
      publish: (topic) => answers.push(topic),
      now: () => T0,
    });
    services.push(quiet);
    for (let i = 0; i < 201; i++)
      quiet.handleRequest("$aws/things/pi-1/jobs/get", JSON.stringify({ clientToken: `t${i}` }));
    await quiet.settled();
    expect(answers.filter((t) => t.endsWith("/accepted"))).toHaveLength(200);
    expect(answers.filter((t) => t.endsWith("/rejected"))).toHaveLength(1);
    expect(quiet.stats().throttled).toBe(1);
  });
});
