import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { presignedUrlPlaceholder, StatusDetails } from "@medusa/adapters/jobs";
import type { MqttConnectionService } from "@medusa/adapters/mqtt";
import { Schema } from "effect";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { readJobDocument } from "./job-document.js";
import { type JobOutcome, JobsClient } from "./jobs-client.js";
import { readExecution, statusDetails } from "./jobs-protocol.js";

const SHA = "a".repeat(64);
const dir = mkdtempSync(join(tmpdir(), "medusa-jobs-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("job documents", () => {
  it("reads the four operations", () => {
    expect(readJobDocument({ operation: "agent.restart" })).toEqual({
      ok: true,
      job: { operation: "agent.restart" },
    });
    expect(readJobDocument({ operation: "outbox.flush" }).ok).toBe(true);
    expect(
      readJobDocument({
        operation: "agent.update",
        version: "0.2.0",
        url: "https://s3.amazonaws.com/b/k?X-Amz-Signature=1",
        sha256: SHA,
      }),
    ).toEqual({
      ok: true,
      job: {
        operation: "agent.update",
        version: "0.2.0",
        url: "https://s3.amazonaws.com/b/k?X-Amz-Signature=1",
        sha256: SHA,
      },
    });
  });

  it("config.set: valid settings taken, invalid ones refused with the shadow's reasons", () => {
    const read = readJobDocument({
      operation: "config.set",
      settings: { publish: { interval_ms: 5000, status_interval_ms: 5 }, sensor: { colour: 1 } },
    });
    expect(read).toEqual({
      ok: true,
      job: {
        operation: "config.set",
        settings: { publishIntervalMs: 5000 },
        refused: [
          {
            setting: "publish.status_interval_ms",
            reason: "status_interval_ms must be between 1000 and 3600000",
          },
          { setting: "sensor.colour", reason: "not a setting the agent takes" },
        ],
      },
    });
  });

  it.each([
    [42, "not a JSON object"],
    [{}, "has no operation"],
    [{ operation: "firmware.flash" }, 'unknown operation "firmware.flash"'],
    [{ operation: "agent.restart", now: true }, "agent.restart: now"],
    [{ operation: "config.set" }, "settings must be an object"],
    [{ operation: "config.set", settings: {} }, "settings is empty"],
    [{ operation: "agent.update", version: "1", url: "https://x.org/a", sha256: "00" }, "sha256"],
    [{ operation: "agent.update", version: "1", url: "http://x.org/a", sha256: SHA }, "url"],
    [
      {
        operation: "agent.update",
        version: "1",
        url: presignedUrlPlaceholder("b", "agent.mjs"),
        sha256: SHA,
      },
      "placeholder was not replaced",
    ],
  ])("refuses %j with the reason (%s)", (document, reason) => {
    const read = readJobDocument(document);
    expect(read.ok).toBe(false);
    if (!read.ok) expect(read.reason).toContain(reason);
  });
});

describe("the protocol as the agent reads and writes it", () => {
  it("statusDetails always fit AWS's limits (keys, values, control characters)", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())), (raw) => {
        expect(Schema.is(StatusDetails)(statusDetails(raw))).toBe(true);
      }),
    );
    expect(statusDetails({ reason: "a\nb", "bad key!": "x", empty: "" })).toEqual({
      reason: "a b",
      bad_key_: "x",
    });
  });

  it("reads an execution, nothing from an answer without one or a malformed one", () => {
    const execution = {
      jobId: "j-1",
      thingName: "pi-1",
      status: "IN_PROGRESS",
      statusDetails: { step: "downloading" },
      queuedAt: 1,
      lastUpdatedAt: 2,
      versionNumber: 3,
      executionNumber: 1,
      jobDocument: { operation: "agent.restart" },
    };
    expect(readExecution({ execution, timestamp: 5 })).toEqual({
      jobId: "j-1",
      status: "IN_PROGRESS",
      statusDetails: { step: "downloading" },
      jobDocument: { operation: "agent.restart" },
      versionNumber: 3,
      executionNumber: 1,
    });
    expect(readExecution({ timestamp: 5 })).toBeUndefined();
    expect(readExecution({ execution: { ...execution, jobId: "no spaces" } })).toBeUndefined();
  });
});

/** A connected transport that records subscriptions and publishes, and answers through `answer`. */
const scriptedTransport = (answer: (topic: string, body: Record<string, unknown>) => void) => {
  const handlers = new Map<string, (topic: string, payload: Uint8Array) => void>();
  const log: Array<string> = [];
  const t = {
    connected: true,
    log,
    publish: async (topic: string, payload: string | Uint8Array) => {
      log.push(`publish ${topic}`);
      setTimeout(() => answer(topic, JSON.parse(Buffer.from(payload).toString())), 1);
    },
    subscribe: async (filter: string, h: (topic: string, payload: Uint8Array) => void) => {
      log.push(`subscribe ${filter}`);
      handlers.set(filter, h);
    },
    onConnect: () => {},
    onDisconnect: () => {},
    reconnects: () => 0,
    close: async () => {},
    deliver: (topic: string, body: unknown) =>
      handlers.get(topic)?.(topic, Buffer.from(JSON.stringify(body))),
  };
  return t satisfies MqttConnectionService;
};

describe("the Jobs client", () => {
  it("subscribes before start-next, and fails a step that outruns its budget before the service times it out", async () => {
    const prefix = "$aws/things/pi-1/jobs";
    let status = "QUEUED";
    const updates: Array<Record<string, unknown>> = [];
    const t = scriptedTransport((topic, body) => {
      const execution = {
        jobId: "slow",
        thingName: "pi-1",
        status: "IN_PROGRESS",
        queuedAt: 1,
        lastUpdatedAt: 1,
        versionNumber: 2,
        executionNumber: 1,
        jobDocument: { operation: "outbox.flush" },
      };
      const token = body.clientToken;
      if (topic === `${prefix}/start-next`)
        t.deliver(`${topic}/accepted`, {
          clientToken: token,
          timestamp: 1,
          ...(status === "QUEUED" ? { execution } : {}),
        });
      if (topic === `${prefix}/slow/update`) {
        updates.push(body);
        status = String(body.status);
        t.deliver(`${topic}/accepted`, {
          clientToken: token,
          timestamp: 1,
          executionState: { status, versionNumber: 3 },
        });
      }
    });
    const client = new JobsClient({
      thing: "pi-1",
      transport: t,
      log: () => {},
      execute: () => new Promise<JobOutcome>(() => {}), // never ends
      resume: async () => "again",
      restart: () => {},
      reportPath: join(dir, "job-report.json"),
      stepBudgetMs: 300,
      timeoutMs: 1_000,
    });
    client.start();
    await new Promise((r) => setTimeout(r, 1_000));
    await client.idle();
    client.stop();
    expect(t.log.slice(0, 4)).toEqual([
      `subscribe ${prefix}/notify-next`,
      `subscribe ${prefix}/start-next/accepted`,
      `subscribe ${prefix}/start-next/rejected`,
      `publish ${prefix}/start-next`,
    ]);
    expect(updates).toEqual([
      expect.objectContaining({
        status: "FAILED",
        expectedVersion: 2,
        statusDetails: {
          reason: expect.stringContaining(
            "not finished within the step's 300 ms (step timeout 10 min)",
          ),
        },
      }),
    ]);
  });
});
