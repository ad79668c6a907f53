import { clockFrom } from "@medusa/adapters";
import { createCertificateRegistry, registryThingCertificates } from "@medusa/adapters/broker";
import { makeInMemoryDeadLetters, registeredThing } from "@medusa/adapters/testing";
import {
  DeadLetters,
  ThingCertificates,
  type ThingCertificatesService,
  ThingCertificatesUnavailable,
} from "@medusa/domain";
import { Effect, Layer } from "effect";
import { describe, expect, it } from "vitest";
import { certificateRetirementHandler } from "./certificate-retirement.js";

const PREFIX = "medusa-dev-";

/** A registry with one thing and its certificates (each issued, then registered to it). */
const fleet = (statuses: ReadonlyArray<"ACTIVE" | "INACTIVE">) => {
  const registry = createCertificateRegistry();
  return { registry, ...registeredThing(registry, statuses) };
};

const wire = (certificates: ThingCertificatesService) => {
  const deadLetters = makeInMemoryDeadLetters();
  const lines: Array<Record<string, unknown>> = [];
  const handler = certificateRetirementHandler(
    Layer.mergeAll(
      Layer.succeed(ThingCertificates, certificates),
      Layer.succeed(DeadLetters, deadLetters),
      clockFrom(() => 1_764_000_000_000),
    ),
    { jobIdPrefix: PREFIX },
    (l) => lines.push(JSON.parse(l)),
  );
  return { handler, deadLetters, lines };
};

/** The event AWS IoT Jobs publishes to `$aws/events/jobExecution/{jobId}/{operation}` (events-jobs.html). */
const event = (
  jobId: string,
  thing: string,
  status: string,
  statusDetails?: Record<string, string>,
) => ({
  eventType: "JOB_EXECUTION",
  eventId: "7364ffd1-8b65-4824-85d5-6c14686c97c6",
  timestamp: 1_764_000_000,
  operation: status.toLowerCase(),
  jobId,
  thingArn: `arn:aws:iot:eu-central-1:123456789012:thing/${thing}`,
  status,
  ...(statusDetails ? { statusDetails } : {}),
});

describe("the certificate retirement function", () => {
  it("a certificate.rotate execution SUCCEEDED: every other ACTIVE certificate becomes INACTIVE, the reported one stays", async () => {
    const { registry, thing, ids } = fleet(["ACTIVE", "ACTIVE"]);
    const [old, current] = ids as [string, string];
    const { handler, lines } = wire(registryThingCertificates(registry));
    const outcome = await handler(
      event(`${PREFIX}certificate-rotate-1`, thing, "SUCCEEDED", {
        certificate_id: current,
        previous_certificate_id: old,
      }),
    );
    expect(outcome).toEqual({ kind: "retired", thingName: thing, certificateIds: [old] });
    expect(registry.certificate(old)?.status).toBe("INACTIVE");
    expect(registry.certificate(current)?.status).toBe("ACTIVE");
    expect(lines.at(-1)).toMatchObject({ level: "info", certificate_ids: [old] });
    // The same event again (IoT's action retried): nothing more to do, nothing breaks.
    expect(
      await handler(
        event(`${PREFIX}certificate-rotate-1`, thing, "SUCCEEDED", { certificate_id: current }),
      ),
    ).toEqual({ kind: "retired", thingName: thing, certificateIds: [] });
  });

  it("retires nothing when the report is not borne out, for another job, another stage's job or another status", async () => {
    const { registry, thing, ids } = fleet(["ACTIVE", "ACTIVE"]);
    const [old, current] = ids as [string, string];
    const { handler } = wire(registryThingCertificates(registry));
    const rotate = `${PREFIX}certificate-rotate-2`;
    expect(
      await handler(event(rotate, thing, "SUCCEEDED", { certificate_id: "f".repeat(64) })),
    ).toMatchObject({ kind: "refused", reason: expect.stringContaining("not attached") });
    expect(await handler(event(rotate, thing, "SUCCEEDED"))).toMatchObject({ kind: "refused" });
    expect(
      await handler(
        event(`${PREFIX}agent-update-1`, thing, "SUCCEEDED", { certificate_id: current }),
      ),
    ).toMatchObject({ kind: "ignored" });
    expect(
      await handler(
        event("medusa-prod-certificate-rotate-2", thing, "SUCCEEDED", { certificate_id: current }),
      ),
    ).toMatchObject({ kind: "ignored" });
    expect(
      await handler(event(rotate, thing, "FAILED", { certificate_id: current })),
    ).toMatchObject({ kind: "ignored" });
    expect(
      await handler(event(rotate, "medusa-unknown", "SUCCEEDED", { certificate_id: current })),
    ).toMatchObject({ kind: "refused", reason: expect.stringContaining("not registered") });
    expect(registry.certificate(old)?.status).toBe("ACTIVE");
    expect(registry.certificate(current)?.status).toBe("ACTIVE");
  });

  it("an event it cannot read is kept as a dead letter with the reason, never dropped", async () => {
    const { registry } = fleet(["ACTIVE"]);
    const { handler, deadLetters } = wire(registryThingCertificates(registry));
    const malformed = { eventType: "JOB_EXECUTION", jobId: 42 };
    expect(await handler(malformed)).toMatchObject({ kind: "dead-lettered" });
    const [letter] = deadLetters.all();
    expect(letter).toMatchObject({
      source: "iot-rule",
      payload: JSON.stringify(malformed),
      reason: expect.stringContaining("job execution event"),
      receivedAt: 1_764_000_000_000,
    });
    expect(letter?.issues.map((i) => i.path)).toContain("jobId");
  });

  it("a registry that does not answer fails the invocation with the typed error (Lambda retries it)", async () => {
    const { registry, thing } = fleet([]);
    // The registry twin, with its listing failing as AWS IoT's does when throttled.
    const { handler } = wire({
      ...registryThingCertificates(registry),
      attached: () =>
        Effect.fail(new ThingCertificatesUnavailable({ operation: "list", reason: "throttled" })),
    });
    await expect(
      handler(
        event(`${PREFIX}certificate-rotate-3`, thing, "SUCCEEDED", {
          certificate_id: "a".repeat(64),
        }),
      ),
    ).rejects.toMatchObject({ _tag: "ThingCertificatesUnavailable" });
  });
});
