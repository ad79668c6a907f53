import {
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  type CreateJobCommandInput,
  DescribeJobCommand,
  GetJobDocumentCommand,
  InvalidRequestException,
  InvalidStateTransitionException,
  IoTClient,
  ListJobExecutionsForThingCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  VersionConflictException,
} from "@aws-sdk/client-iot";
import { DEVICE_JOB_RETRY, deviceId } from "@medusa/domain";
import { Effect, Either } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobsControlPlane, startJobsControlPlane } from "../broker/jobs-control-plane.js";
import { JobsService } from "../broker/jobs-service.js";
import { localCredentials } from "../dynamodb/client.js";
import { presignedUrlPlaceholder } from "../jobs/document.js";
import { jobExecutionsRetryConfigOf, makeIotDeviceJobs } from "./device-jobs.js";

// AWS IoT's control plane for Jobs, emulated over HTTP on 127.0.0.1, called with the AWS SDK as Lambda calls AWS.
let service: JobsService;
let plane: JobsControlPlane;
let client: IoTClient;
const published: Array<{ topic: string; body: Record<string, unknown> }> = [];
beforeAll(async () => {
  service = new JobsService({
    publish: (topic, payload) => published.push({ topic, body: JSON.parse(payload) }),
    resolvePresignedUrl: (s3Url, { expiresInSec }) =>
      `https://bundles.local/${encodeURIComponent(s3Url)}?expires=${expiresInSec}`,
  });
  plane = await startJobsControlPlane(service);
  client = new IoTClient({ endpoint: plane.url, region: "local", credentials: localCredentials });
});
afterAll(async () => {
  client.destroy();
  await plane.close();
  await service.close();
});

const settings = {
  bundleBucket: "medusa-agent-bundles",
  presignRoleArn: "arn:aws:iam::000000000000:role/jobs-presign",
  presignExpiresInSec: 900,
};

describe("DeviceJobs on AWS IoT (emulated control plane, AWS SDK)", () => {
  it("creates a job for one device with its document, and lists the device's jobs newest first with status details", async () => {
    const jobs = makeIotDeviceJobs(client, settings);
    const pi = deviceId("pi-jobs-1");
    const created = await Effect.runPromise(
      jobs.create(pi, "agent-update-1", {
        type: "agent.update",
        version: "0.5.0",
        bundleKey: "agent-0.5.0.mjs",
        sha256: "ab".repeat(32),
      }),
    );
    expect(created).toMatchObject({
      jobId: "agent-update-1",
      deviceId: pi,
      type: "agent.update",
      status: "QUEUED",
      statusDetails: {},
      versionNumber: 1,
      executionNumber: 1,
    });
    // The document as stored (the placeholder) and as delivered (presigned, per the job's config).
    const described = await client.send(new DescribeJobCommand({ jobId: "agent-update-1" }));
    const document = async (jobId: string) =>
      JSON.parse((await client.send(new GetJobDocumentCommand({ jobId }))).document ?? "");
    expect(await document("agent-update-1")).toEqual({
      operation: "agent.update",
      version: "0.5.0",
      url: presignedUrlPlaceholder("medusa-agent-bundles", "agent-0.5.0.mjs"),
      sha256: "ab".repeat(32),
    });
    expect(described.job?.targets).toEqual(["arn:aws:iot:local:000000000000:thing/pi-jobs-1"]);
    const next = published.find((p) => p.topic === "$aws/things/pi-jobs-1/jobs/notify-next");
    expect(next?.body).toMatchObject({
      execution: {
        jobDocument: {
          url: `https://bundles.local/${encodeURIComponent("https://s3.amazonaws.com/medusa-agent-bundles/agent-0.5.0.mjs")}?expires=900`,
        },
      },
    });

    await Effect.runPromise(
      jobs.create(pi, "config-set-2", {
        type: "config.set",
        settings: { sampleRateHz: 25, publishIntervalMs: 2000 },
      }),
    );
    expect(await document("config-set-2")).toEqual({
      operation: "config.set",
      settings: { sensor: { sample_rate_hz: 25 }, publish: { interval_ms: 2000 } },
    });
    service.handleRequest(
      "$aws/things/pi-jobs-1/jobs/start-next",
      JSON.stringify({ statusDetails: { step: "download" } }),
    );
    await service.settled();
    const listed = await Effect.runPromise(jobs.list(pi));
    expect(listed.map((j) => [j.jobId, j.status, j.statusDetails])).toEqual(
      [
        ["config-set-2", "QUEUED", {}],
        ["agent-update-1", "IN_PROGRESS", { step: "download" }],
      ].sort((a, b) => (a[0] === "config-set-2" ? -1 : b[0] === "config-set-2" ? 1 : 0)),
    );
    expect(listed.find((j) => j.jobId === "agent-update-1")?.startedAt).toEqual(expect.any(Number));
    expect(await Effect.runPromise(jobs.list(deviceId("pi-without-jobs")))).toEqual([]);
  });

  it("with a job id prefix (the stack's, which the API's role is limited to), creates prefixed ids, reads their type, and lists only its own", async () => {
    const pi = deviceId("pi-jobs-prefix");
    const own = makeIotDeviceJobs(client, { ...settings, jobIdPrefix: "medusa-dev-" });
    const other = makeIotDeviceJobs(client, { ...settings, jobIdPrefix: "medusa-prod-" });
    const created = await Effect.runPromise(
      own.create(pi, "outbox-flush-1", { type: "outbox.flush" }),
    );
    expect(created).toMatchObject({ jobId: "medusa-dev-outbox-flush-1", type: "outbox.flush" });
    await Effect.runPromise(other.create(pi, "agent-restart-1", { type: "agent.restart" }));
    const listed = await Effect.runPromise(own.list(pi));
    expect(listed.map((j) => [j.jobId, j.type])).toEqual([
      ["medusa-dev-outbox-flush-1", "outbox.flush"],
    ]);
  });

  it("a certificate rotation names the configured rotation template; without one (or with a template that is not a rotation's) it is refused and nothing is created", async () => {
    const pi = deviceId("pi-jobs-rotate");
    const rotating = makeIotDeviceJobs(client, {
      ...settings,
      rotationTemplate: "medusa-dev-rotation",
    });
    const created = await Effect.runPromise(
      rotating.create(pi, "certificate-rotate-1", { type: "certificate.rotate" }),
    );
    expect(created).toMatchObject({ type: "certificate.rotate", status: "QUEUED" });
    const { document } = await client.send(
      new GetJobDocumentCommand({ jobId: "certificate-rotate-1" }),
    );
    expect(JSON.parse(document ?? "")).toEqual({
      operation: "certificate.rotate",
      template: "medusa-dev-rotation",
    });
    for (const [jobs, reason] of [
      [makeIotDeviceJobs(client, settings), /no rotation provisioning template is configured/],
      [
        makeIotDeviceJobs(client, { ...settings, rotationTemplate: "medusa-dev-fleet" }),
        /"medusa-dev-fleet" is not one/,
      ],
    ] as const) {
      const refused = await Effect.runPromise(
        Effect.either(jobs.create(pi, "certificate-rotate-2", { type: "certificate.rotate" })),
      );
      expect(Either.isLeft(refused) && refused.left).toMatchObject({
        _tag: "DeviceJobRejected",
        reason: expect.stringMatching(reason),
      });
    }
    expect((await Effect.runPromise(rotating.list(pi))).map((j) => j.jobId)).toEqual([
      "certificate-rotate-1",
    ]);
  });

  it("maps refusals to typed errors", async () => {
    const jobs = makeIotDeviceJobs(client, settings);
    const pi = deviceId("pi-jobs-2");
    await Effect.runPromise(jobs.create(pi, "outbox-flush-1", { type: "outbox.flush" }));
    const again = await Effect.runPromise(
      Effect.either(jobs.create(pi, "outbox-flush-1", { type: "outbox.flush" })),
    );
    expect(Either.isLeft(again) && again.left._tag).toBe("DeviceJobRejected");
    const down = makeIotDeviceJobs(
      new IoTClient({
        endpoint: "http://127.0.0.1:9",
        region: "local",
        credentials: localCredentials,
        maxAttempts: 1,
      }),
      settings,
    );
    const failed = await Effect.runPromise(Effect.either(down.list(pi)));
    expect(Either.isLeft(failed) && failed.left._tag).toBe("DeviceJobsUnavailable");
  });

  it("answers the SDK's calls as AWS does, raising the SDK's exception for each refusal", async () => {
    await expect(
      client.send(new CreateJobCommand({ jobId: "bad", targets: ["pi-x"], document: "[]" })),
    ).rejects.toBeInstanceOf(InvalidRequestException);
    await client.send(new CreateJobCommand({ jobId: "sdk-1", targets: ["pi-x"], document: "{}" }));
    await expect(
      client.send(new CreateJobCommand({ jobId: "sdk-1", targets: ["pi-x"], document: "{}" })),
    ).rejects.toBeInstanceOf(ResourceAlreadyExistsException);
    await expect(client.send(new DescribeJobCommand({ jobId: "nope" }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    const canceled = await client.send(new CancelJobCommand({ jobId: "sdk-1", force: true }));
    expect(canceled.jobId).toBe("sdk-1");
    expect((await client.send(new DescribeJobCommand({ jobId: "sdk-1" }))).job?.status).toBe(
      "CANCELED",
    );
  });

  it("creates every job with the retry config (one retry on TIMED_OUT by default), which DescribeJob shows; a retried job is listed once, at its latest attempt", async () => {
    // A service of its own, with a clock the test moves.
    const clock = { now: Date.now() };
    const own = new JobsService({ publish: () => {}, now: () => clock.now });
    const ownPlane = await startJobsControlPlane(own, { now: () => clock.now });
    const ownClient = new IoTClient({
      endpoint: ownPlane.url,
      region: "local",
      credentials: localCredentials,
    });
    try {
      const pi = deviceId("pi-jobs-retry");
      const jobs = makeIotDeviceJobs(ownClient, settings);
      await Effect.runPromise(jobs.create(pi, "agent-restart-r", { type: "agent.restart" }));
      expect(
        (await ownClient.send(new DescribeJobCommand({ jobId: "agent-restart-r" }))).job
          ?.jobExecutionsRetryConfig,
      ).toEqual({ criteriaList: [{ failureType: "TIMED_OUT", numberOfRetries: 1 }] });
      // The device starts it with a step timer and goes silent: TIMED_OUT, then queued again.
      own.handleRequest(
        "$aws/things/pi-jobs-retry/jobs/start-next",
        JSON.stringify({ stepTimeoutInMinutes: 1 }),
      );
      await own.settled();
      clock.now += 60_000;
      expect(own.expireTimeouts()).toBe(1);
      await own.settled();
      const summaries = await ownClient.send(
        new ListJobExecutionsForThingCommand({ thingName: "pi-jobs-retry" }),
      );
      expect(
        summaries.executionSummaries?.map((e) => [
          e.jobExecutionSummary?.executionNumber,
          e.jobExecutionSummary?.retryAttempt,
          e.jobExecutionSummary?.status,
        ]),
      ).toEqual([
        [1, 0, "TIMED_OUT"],
        [2, 1, "QUEUED"],
      ]);
      const listed = await Effect.runPromise(jobs.list(pi));
      expect(listed.map((j) => [j.jobId, j.status, j.executionNumber])).toEqual([
        ["agent-restart-r", "QUEUED", 2],
      ]);
    } finally {
      ownClient.destroy();
      await ownPlane.close();
      await own.close();
    }
  });

  it("maps the domain's retry rule to CreateJob's retry config: one criterion per failure it runs again after, none when it runs nothing again", () => {
    expect(jobExecutionsRetryConfigOf(DEVICE_JOB_RETRY)).toEqual({
      criteriaList: [{ failureType: "TIMED_OUT", numberOfRetries: 1 }],
    });
    expect(jobExecutionsRetryConfigOf({ afterTimedOut: 2, afterFailed: 1 })).toEqual({
      criteriaList: [
        { failureType: "FAILED", numberOfRetries: 1 },
        { failureType: "TIMED_OUT", numberOfRetries: 2 },
      ],
    });
    expect(jobExecutionsRetryConfigOf({ afterTimedOut: 0, afterFailed: 0 })).toBeUndefined();
  });

  it("passes an abort config and a retry config through CreateJob as AWS takes them, refusing what AWS refuses", async () => {
    const abortConfig = {
      criteriaList: [
        {
          failureType: "FAILED" as const,
          action: "CANCEL" as const,
          thresholdPercentage: 25.5,
          minNumberOfExecutedThings: 2,
        },
      ],
    };
    await client.send(
      new CreateJobCommand({
        jobId: "sdk-abort",
        targets: ["pi-a", "pi-b"],
        document: "{}",
        abortConfig,
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: "ALL", numberOfRetries: 3 }] },
      }),
    );
    expect((await client.send(new DescribeJobCommand({ jobId: "sdk-abort" }))).job).toMatchObject({
      abortConfig,
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: "ALL", numberOfRetries: 3 }] },
    });
    const refused = client.send(
      new CreateJobCommand({
        jobId: "sdk-abort-bad",
        targets: ["pi-a"],
        document: "{}",
        jobExecutionsRetryConfig: {
          criteriaList: [{ failureType: "FAILED", numberOfRetries: 11 }],
        },
      }),
    );
    await expect(refused).rejects.toBeInstanceOf(InvalidRequestException);
    await expect(refused).rejects.toThrow(/numberOfRetries' failed to satisfy constraint/);
  });

  it("refuses a timeoutConfig or a presignedUrlConfig outside AWS's ranges: a 400 InvalidRequestException with AWS's validation message", async () => {
    const refusal = async (
      config: Omit<CreateJobCommandInput, "jobId" | "targets" | "document">,
    ) => {
      const e = await client
        .send(
          new CreateJobCommand({
            jobId: "sdk-config-bad",
            targets: ["pi-a"],
            document: "{}",
            ...config,
          }),
        )
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      if (!(e instanceof InvalidRequestException)) throw new Error(`not refused as AWS does: ${e}`);
      return [e.$metadata.httpStatusCode, e.message];
    };
    expect(await refusal({ timeoutConfig: { inProgressTimeoutInMinutes: 10_081 } })).toEqual([
      400,
      "1 validation error detected: Value '10081' at 'timeoutConfig.inProgressTimeoutInMinutes' failed to satisfy constraint: Member must have value less than or equal to 10080 and greater than or equal to 1",
    ]);
    expect(
      await refusal({
        presignedUrlConfig: { roleArn: settings.presignRoleArn, expiresInSec: 30 },
      }),
    ).toEqual([
      400,
      "1 validation error detected: Value '30' at 'presignedUrlConfig.expiresInSec' failed to satisfy constraint: Member must have value less than or equal to 3600 and greater than or equal to 60",
    ]);
    await expect(
      client.send(new DescribeJobCommand({ jobId: "sdk-config-bad" })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    // At the bounds: taken, and DescribeJob shows the timer.
    await client.send(
      new CreateJobCommand({
        jobId: "sdk-config-ok",
        targets: ["pi-a"],
        document: "{}",
        timeoutConfig: { inProgressTimeoutInMinutes: 10_080 },
        presignedUrlConfig: { roleArn: settings.presignRoleArn, expiresInSec: 3600 },
      }),
    );
    expect(
      (await client.send(new DescribeJobCommand({ jobId: "sdk-config-ok" }))).job?.timeoutConfig,
    ).toEqual({ inProgressTimeoutInMinutes: 10_080 });
  });

  it("CancelJobExecution: a QUEUED execution is canceled, an IN_PROGRESS one only with force, as AWS refuses", async () => {
    await client.send(
      new CreateJobCommand({ jobId: "sdk-cx", targets: ["pi-c1", "pi-c2"], document: "{}" }),
    );
    await client.send(
      new CancelJobExecutionCommand({
        jobId: "sdk-cx",
        thingName: "pi-c1",
        statusDetails: { reason: "not needed" },
      }),
    );
    expect(service.describeJobExecution("sdk-cx", "pi-c1")).toMatchObject({
      value: { execution: { status: "CANCELED", statusDetails: { reason: "not needed" } } },
    });
    service.handleRequest("$aws/things/pi-c2/jobs/start-next", "{}");
    await service.settled();
    await expect(
      client.send(new CancelJobExecutionCommand({ jobId: "sdk-cx", thingName: "pi-c2" })),
    ).rejects.toBeInstanceOf(InvalidStateTransitionException);
    await expect(
      client.send(
        new CancelJobExecutionCommand({
          jobId: "sdk-cx",
          thingName: "pi-c2",
          force: true,
          expectedVersion: 1,
        }),
      ),
    ).rejects.toBeInstanceOf(VersionConflictException);
    await client.send(
      new CancelJobExecutionCommand({
        jobId: "sdk-cx",
        thingName: "pi-c2",
        force: true,
        expectedVersion: 2,
      }),
    );
    expect(service.describeJobExecution("sdk-cx", "pi-c2")).toMatchObject({
      value: { execution: { status: "CANCELED", versionNumber: 3 } },
    });
    // Every execution ended: the job is COMPLETED; canceling again is refused.
    expect((await client.send(new DescribeJobCommand({ jobId: "sdk-cx" }))).job?.status).toBe(
      "COMPLETED",
    );
    await expect(
      client.send(new CancelJobExecutionCommand({ jobId: "sdk-cx", thingName: "pi-c1" })),
    ).rejects.toBeInstanceOf(InvalidStateTransitionException);
    await expect(
      client.send(new CancelJobExecutionCommand({ jobId: "sdk-cx", thingName: "pi-none" })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });
});
