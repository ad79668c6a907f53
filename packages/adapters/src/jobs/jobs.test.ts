import { Arbitrary, Either, Schema } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  JobDocument,
  presignedUrlPlaceholder,
  resolvePresignedUrls,
  s3ObjectOf,
} from "./document.js";
import {
  controlTransition,
  type ExecutionRecord,
  endExecution,
  executionSummary,
  isTerminal,
  jobExecution,
  pendingInOrder,
  queuedExecution,
  startExecution,
  timeoutAt,
  updateExecution,
} from "./execution.js";
import {
  DescribeJobExecutionResponse,
  GetPendingJobExecutionsResponse,
  JOB_EXECUTION_STATUSES,
  JobExecutionStatus,
  JobsErrorResponse,
  StartNextPendingJobExecutionRequest,
  StatusDetails,
  UpdateJobExecutionRequest,
} from "./messages.js";
import { jobsTopics, parseJobsRequest } from "./topics.js";

/** AWS's placeholder syntax, written without a template-literal look-alike in the source. */
const placeholder = (s3Url: string) => `$${"{"}aws:iot:s3-presigned-url:${s3Url}}`;

const decodes = <A, I>(schema: Schema.Schema<A, I>, value: unknown) =>
  Either.isRight(Schema.decodeUnknownEither(schema)(value));

describe("jobs topics", () => {
  it("builds the documented topics", () => {
    const t = jobsTopics("MyThing");
    expect(t.getPending).toBe("$aws/things/MyThing/jobs/get");
    expect(t.startNext).toBe("$aws/things/MyThing/jobs/start-next");
    expect(t.describe("022")).toBe("$aws/things/MyThing/jobs/022/get");
    expect(t.describe("$next")).toBe("$aws/things/MyThing/jobs/$next/get");
    expect(t.update("022")).toBe("$aws/things/MyThing/jobs/022/update");
    expect(t.notify).toBe("$aws/things/MyThing/jobs/notify");
    expect(t.notifyNext).toBe("$aws/things/MyThing/jobs/notify-next");
  });

  it("parses requests, and only requests", () => {
    expect(parseJobsRequest("$aws/things/T/jobs/get")).toEqual({
      operation: "GetPendingJobExecutions",
      thing: "T",
    });
    expect(parseJobsRequest("$aws/things/T/jobs/start-next")).toEqual({
      operation: "StartNextPendingJobExecution",
      thing: "T",
    });
    expect(parseJobsRequest("$aws/things/T/jobs/$next/get")).toEqual({
      operation: "DescribeJobExecution",
      thing: "T",
      jobId: "$next",
    });
    expect(parseJobsRequest("$aws/things/T/jobs/job-1/update")).toEqual({
      operation: "UpdateJobExecution",
      thing: "T",
      jobId: "job-1",
    });
    // `get` as a job id is a job called "get".
    expect(parseJobsRequest("$aws/things/T/jobs/get/get")).toMatchObject({ jobId: "get" });
    for (const answer of [
      "$aws/things/T/jobs/get/accepted",
      "$aws/things/T/jobs/job-1/update/rejected",
      "$aws/things/T/jobs/notify",
      "$aws/things/T/jobs/notify-next",
      "$aws/things/T/shadow/get",
      "medusa/T/status",
      "$aws/things/bad name/jobs/get",
    ])
      expect(parseJobsRequest(answer)).toBeUndefined();
    for (const invalid of [
      "$aws/things/T/jobs/frobnicate",
      "$aws/things/T/jobs/$next/update",
      "$aws/things/T/jobs/bad.id/get",
      "$aws/things/T/jobs/a/b/c",
    ])
      expect(parseJobsRequest(invalid)).toEqual({ operation: "InvalidTopic", thing: "T" });
  });
});

describe("jobs documents", () => {
  it("decode AWS's documented examples", () => {
    // jobs-mqtt-https-api: GetPendingJobExecutions response (timestamps in seconds).
    expect(
      decodes(GetPendingJobExecutionsResponse, {
        inProgressJobs: [],
        queuedJobs: [
          {
            jobId: "test_job",
            queuedAt: 1625268804,
            lastUpdatedAt: 1625268804,
            executionNumber: 1,
            versionNumber: 1,
          },
        ],
        timestamp: 1625328544,
        clientToken: "client-001",
      }),
    ).toBe(true);
    expect(
      decodes(DescribeJobExecutionResponse, {
        execution: {
          jobId: "022",
          thingName: "MyThing",
          jobDocument: { operation: "agent.restart" },
          status: "IN_PROGRESS",
          queuedAt: 1489096123,
          lastUpdatedAt: 1489096123,
          versionNumber: 1,
          executionNumber: 1234567890,
        },
        clientToken: "client-1",
        timestamp: 1489088524,
      }),
    ).toBe(true);
    expect(
      decodes(JobsErrorResponse, {
        code: "VersionMismatch",
        message: "…",
        clientToken: "c",
        timestamp: 1,
        executionState: { status: "IN_PROGRESS", versionNumber: 3 },
      }),
    ).toBe(true);
    expect(decodes(JobsErrorResponse, { code: "Nope", message: "", timestamp: 1 })).toBe(false);
  });

  it("enforce the documented field limits", () => {
    expect(decodes(StatusDetails, { step: "download" })).toBe(true);
    expect(decodes(StatusDetails, { "bad key": "x" })).toBe(false);
    expect(decodes(StatusDetails, { k: "" })).toBe(false);
    expect(decodes(StatusDetails, { k: "x".repeat(1025) })).toBe(false);
    expect(decodes(StatusDetails, { k: "line\nbreak" })).toBe(false);
    expect(decodes(StartNextPendingJobExecutionRequest, { stepTimeoutInMinutes: 10_080 })).toBe(
      true,
    );
    expect(decodes(StartNextPendingJobExecutionRequest, { stepTimeoutInMinutes: 10_081 })).toBe(
      false,
    );
    expect(decodes(StartNextPendingJobExecutionRequest, { stepTimeoutInMinutes: 0 })).toBe(false);
    expect(
      decodes(UpdateJobExecutionRequest, { status: "SUCCEEDED", clientToken: "x".repeat(65) }),
    ).toBe(false);
    expect(decodes(UpdateJobExecutionRequest, { statusDetails: {} })).toBe(false);
  });

  it("MeDUSA job documents: the four operations, validated", () => {
    const sha = "a".repeat(64);
    expect(
      decodes(JobDocument, {
        operation: "config.set",
        settings: { sensor: { sample_rate_hz: 25 } },
      }),
    ).toBe(true);
    expect(decodes(JobDocument, { operation: "config.set", settings: {} })).toBe(false);
    expect(
      decodes(JobDocument, { operation: "config.set", settings: { publish: { interval_ms: 1 } } }),
    ).toBe(false);
    expect(decodes(JobDocument, { operation: "agent.restart" })).toBe(true);
    expect(decodes(JobDocument, { operation: "outbox.flush" })).toBe(true);
    const update = {
      operation: "agent.update",
      version: "0.4.2",
      url: presignedUrlPlaceholder("medusa-bundles", "agent/0.4.2.mjs"),
      sha256: sha,
    };
    expect(update.url).toBe(placeholder("https://s3.amazonaws.com/medusa-bundles/agent/0.4.2.mjs"));
    expect(decodes(JobDocument, update)).toBe(true);
    expect(decodes(JobDocument, { ...update, url: "https://127.0.0.1:8443/bundles/a?x=1" })).toBe(
      true,
    );
    expect(decodes(JobDocument, { ...update, url: "http://example.test/a" })).toBe(false);
    expect(decodes(JobDocument, { ...update, sha256: "A".repeat(64) })).toBe(false);
    expect(decodes(JobDocument, { operation: "rm -rf" })).toBe(false);
  });

  it("replaces presigned-URL placeholders as the service delivers a document", () => {
    const doc = {
      operation: "agent.update",
      url: presignedUrlPlaceholder("b", "k/v.mjs"),
      nested: [`x ${placeholder("https://s3.us-east-1.amazonaws.com/b2/key")} y`],
    };
    const seen: Array<string> = [];
    const out = resolvePresignedUrls(doc, (u) => {
      seen.push(u);
      return `https://signed/${s3ObjectOf(u)?.bucket}/${s3ObjectOf(u)?.key}`;
    });
    expect(out).toEqual({
      operation: "agent.update",
      url: "https://signed/b/k/v.mjs",
      nested: ["x https://signed/b2/key y"],
    });
    expect(seen).toHaveLength(2);
    expect(doc.url).toContain(placeholder("https://s3.amazonaws.com/b/k/v.mjs")); // the stored document is not touched
    expect(s3ObjectOf("https://bucket.s3.eu-west-1.amazonaws.com/a/b")).toEqual({
      bucket: "bucket",
      key: "a/b",
    });
    expect(s3ObjectOf("https://example.com/b/k")).toBeUndefined();
  });
});

const T0 = 1_700_000_000_000;
const minutes = (n: number) => n * 60_000;

const ok = (o: ReturnType<typeof updateExecution>): ExecutionRecord => {
  if (!o.ok) throw new Error(`refused: ${o.refusal.code} ${o.refusal.message}`);
  return o.record;
};

describe("job execution state machine", () => {
  it("QUEUED → IN_PROGRESS → SUCCEEDED, one version per accepted update", () => {
    const q = queuedExecution("job-1", "T", T0);
    expect(q).toMatchObject({ status: "QUEUED", versionNumber: 1, executionNumber: 1 });
    const started = ok(startExecution(q, { statusDetails: { step: "download" } }, T0 + 1000));
    expect(started).toMatchObject({
      status: "IN_PROGRESS",
      versionNumber: 2,
      startedAt: T0 + 1000,
    });
    const progressed = ok(
      updateExecution(
        started,
        { status: "IN_PROGRESS", statusDetails: { step: "install" }, expectedVersion: 2 },
        T0 + 2000,
      ),
    );
    expect(progressed).toMatchObject({ versionNumber: 3, statusDetails: { step: "install" } });
    const done = ok(
      updateExecution(progressed, { status: "SUCCEEDED", expectedVersion: 3 }, T0 + 3000),
    );
    expect(done).toMatchObject({
      status: "SUCCEEDED",
      versionNumber: 4,
      statusDetails: { step: "install" },
    });
    expect(jobExecution(done, T0 + 3000)).toEqual({
      jobId: "job-1",
      thingName: "T",
      status: "SUCCEEDED",
      statusDetails: { step: "install" },
      queuedAt: T0 / 1000,
      startedAt: T0 / 1000 + 1,
      lastUpdatedAt: T0 / 1000 + 3,
      versionNumber: 4,
      executionNumber: 1,
    });
  });

  it("refuses with the documented codes", () => {
    const q = queuedExecution("job-1", "T", T0);
    const mismatch = updateExecution(q, { status: "IN_PROGRESS", expectedVersion: 7 }, T0);
    expect(mismatch).toMatchObject({
      ok: false,
      refusal: { code: "VersionMismatch", executionState: { status: "QUEUED", versionNumber: 1 } },
    });
    expect(updateExecution(q, { status: "QUEUED" }, T0)).toMatchObject({
      ok: false,
      refusal: { code: "InvalidRequest" },
    });
    expect(updateExecution(q, { status: "CANCELED" }, T0)).toMatchObject({
      ok: false,
      refusal: { code: "InvalidRequest" },
    });
    const done = ok(updateExecution(q, { status: "SUCCEEDED" }, T0));
    expect(updateExecution(done, { status: "IN_PROGRESS" }, T0)).toMatchObject({
      ok: false,
      refusal: {
        code: "InvalidStateTransition",
        executionState: { status: "SUCCEEDED", versionNumber: 2 },
      },
    });
  });

  it("step and in-progress timers: the earlier wins, a new step timer replaces the old, terminal clears them", () => {
    const q = queuedExecution("job-1", "T", T0);
    const started = ok(
      startExecution(q, { stepTimeoutInMinutes: 10 }, T0, { inProgressTimeoutInMinutes: 30 }),
    );
    expect(timeoutAt(started)).toBe(T0 + minutes(10));
    expect(jobExecution(started, T0 + 1000).approximateSecondsBeforeTimedOut).toBe(599);
    const later = ok(
      updateExecution(
        started,
        { status: "IN_PROGRESS", stepTimeoutInMinutes: 25 },
        T0 + minutes(9),
        {
          inProgressTimeoutInMinutes: 30,
        },
      ),
    );
    expect(timeoutAt(later)).toBe(T0 + minutes(30)); // in-progress timer from the start
    const kept = ok(updateExecution(later, { status: "IN_PROGRESS" }, T0 + minutes(10)));
    expect(kept.stepTimeoutAt).toBe(T0 + minutes(34));
    const timedOut = endExecution(kept, "TIMED_OUT", T0 + minutes(30));
    expect(timedOut).toMatchObject({ status: "TIMED_OUT", versionNumber: kept.versionNumber + 1 });
    expect(timedOut && timeoutAt(timedOut)).toBeUndefined();
    const succeeded = ok(updateExecution(kept, { status: "SUCCEEDED" }, T0 + minutes(11)));
    expect(succeeded.stepTimeoutAt).toBeUndefined();
  });

  it("start-next leaves an IN_PROGRESS execution's details and version alone", () => {
    const started = ok(
      startExecution(queuedExecution("j", "T", T0), { statusDetails: { a: "1" } }, T0),
    );
    const again = ok(startExecution(started, { statusDetails: { a: "2" } }, T0 + 1000));
    expect(again).toEqual(started);
  });

  it("control plane: cancel QUEUED, IN_PROGRESS only with force; timeouts only IN_PROGRESS", () => {
    expect(controlTransition("QUEUED", "CANCELED")).toBe(true);
    expect(controlTransition("IN_PROGRESS", "CANCELED")).toBe(false);
    expect(controlTransition("IN_PROGRESS", "CANCELED", { force: true })).toBe(true);
    expect(controlTransition("QUEUED", "TIMED_OUT")).toBe(false);
    expect(controlTransition("SUCCEEDED", "CANCELED", { force: true })).toBe(false);
  });

  it("orders the pending list: IN_PROGRESS first, then by queue time", () => {
    const a = queuedExecution("a", "T", T0);
    const b = ok(startExecution(queuedExecution("b", "T", T0 + 5), {}, T0 + 6));
    const c = queuedExecution("c", "T", T0);
    const d = ok(updateExecution(queuedExecution("d", "T", T0 - 1), { status: "FAILED" }, T0));
    expect(pendingInOrder([a, b, c, d]).map((r) => r.jobId)).toEqual(["b", "a", "c"]);
    expect(executionSummary(b)).toEqual({
      jobId: "b",
      queuedAt: Math.floor((T0 + 5) / 1000),
      startedAt: Math.floor((T0 + 6) / 1000),
      lastUpdatedAt: Math.floor((T0 + 6) / 1000),
      versionNumber: 2,
      executionNumber: 1,
    });
  });

  it("property: each accepted change adds one to the version; terminal states are final", () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant("update" as const),
        request: Arbitrary.make(UpdateJobExecutionRequest),
      }),
      fc.record({
        kind: fc.constant("start" as const),
        request: Arbitrary.make(StartNextPendingJobExecutionRequest),
      }),
      fc.record({
        kind: fc.constant("end" as const),
        to: fc.constantFrom("CANCELED" as const, "REMOVED" as const, "TIMED_OUT" as const),
        force: fc.boolean(),
      }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 12 }), fc.nat(1_000_000), (steps, dt) => {
        let record = queuedExecution("job", "T", T0);
        let now = T0;
        for (const s of steps) {
          now += dt;
          const before = record;
          let after: ExecutionRecord | undefined;
          if (s.kind === "update") {
            const o = updateExecution(before, s.request, now);
            if (o.ok) after = o.record;
            else if (o.refusal.code === "VersionMismatch")
              expect(s.request.expectedVersion).not.toBe(before.versionNumber);
          } else if (s.kind === "start") {
            const o = startExecution(before, s.request, now);
            if (o.ok) after = o.record;
          } else after = endExecution(before, s.to, now, { force: s.force });
          if (isTerminal(before.status)) expect(after === undefined || after === before).toBe(true);
          if (after !== undefined && after !== before) {
            const changed =
              after.status !== before.status || after.lastUpdatedAt !== before.lastUpdatedAt;
            if (changed) expect(after.versionNumber).toBe(before.versionNumber + 1);
            else expect(after.versionNumber).toBe(before.versionNumber);
            expect(after.status === "QUEUED").toBe(false);
            if (isTerminal(after.status)) expect(timeoutAt(after)).toBeUndefined();
            record = after;
          }
        }
        expect(JOB_EXECUTION_STATUSES).toContain(record.status);
        expect(decodes(JobExecutionStatus, record.status)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
