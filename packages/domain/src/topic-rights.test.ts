import { Arbitrary } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeviceId } from "./ids.js";
import { devicePublishTopics, mayPublish, maySubscribe } from "./topic-rights.js";
import { BASIC_INGEST_PREFIX, basicIngestTopic, RuleName } from "./topics.js";

describe("the IoT policy's rules", () => {
  it("a device publishes only to its own topics", () => {
    for (const t of ["sensor/data", "status", "device/info", "commands/response"])
      expect(mayPublish("medusa", "pi-1", `medusa/pi-1/${t}`).allowed).toBe(true);
    expect(mayPublish("medusa", "pi-1", "$aws/things/pi-1/shadow/update").allowed).toBe(true);
    for (const t of [
      "medusa/pi-2/sensor/data",
      "medusa/pi-1/commands/ping",
      "medusa/+/sensor/data",
      "other/pi-1/status",
      "medusa/pi-1/sensor/data/x",
    ]) {
      expect(mayPublish("medusa", "pi-1", t)).toMatchObject({
        allowed: false,
        reason: expect.stringContaining(t),
      });
    }
  });

  it("a device subscribes only with its own commands/# and shadow response filters, as the policy lists them", () => {
    for (const f of [
      "medusa/pi-1/commands/#",
      "$aws/things/pi-1/shadow/update/accepted",
      "$aws/things/pi-1/shadow/get/rejected",
    ]) {
      expect([f, maySubscribe("medusa", "pi-1", f).allowed]).toEqual([f, true]);
    }
    for (const f of [
      "medusa/pi-2/commands/#",
      "medusa/+/commands/#",
      "#",
      "medusa/pi-1/#",
      // Narrower filters are refused too: a policy's topicfilter resource matches literally.
      "medusa/pi-1/commands/ping",
      "medusa/pi-1/commands",
      "medusa/pi-1/commandsX/#",
      "$aws/things/pi-1/shadow/#",
      "$aws/things/pi-1/shadow/update",
      "$aws/things/+/shadow/update/accepted",
    ]) {
      expect([f, maySubscribe("medusa", "pi-1", f).allowed]).toEqual([f, false]);
    }
  });

  it("a device reaches its own jobs topics only", () => {
    for (const topic of [
      "$aws/things/pi-1/jobs/get",
      "$aws/things/pi-1/jobs/start-next",
      "$aws/things/pi-1/jobs/job-7/get",
      "$aws/things/pi-1/jobs/$next/get",
      "$aws/things/pi-1/jobs/job-7/update",
    ])
      expect(mayPublish("medusa", "pi-1", topic).allowed).toBe(true);
    for (const topic of [
      "$aws/things/pi-2/jobs/get",
      "$aws/things/pi-2/jobs/job-7/update",
      "$aws/things/pi-1/jobs/notify-next",
      "$aws/things/pi-1/jobs/job-7/update/accepted",
      "$aws/things/pi-10/jobs/get",
    ])
      expect(mayPublish("medusa", "pi-1", topic).allowed).toBe(false);
    for (const filter of [
      "$aws/things/pi-1/jobs/notify-next",
      "$aws/things/pi-1/jobs/start-next/accepted",
      "$aws/things/pi-1/jobs/+/update/accepted",
      "$aws/things/pi-1/jobs/#",
    ])
      expect(maySubscribe("medusa", "pi-1", filter).allowed).toBe(true);
    for (const filter of [
      "$aws/things/pi-2/jobs/notify",
      "$aws/things/+/jobs/notify",
      "$aws/things/pi-1/jobs",
      "$aws/things/pi-10/jobs/#",
    ])
      expect(maySubscribe("medusa", "pi-1", filter).allowed).toBe(false);
  });

  describe("Basic Ingest", () => {
    const ids = Arbitrary.make(DeviceId);
    const rules = Arbitrary.make(RuleName);
    const prefixes = fc.constantFrom("medusa", "clinic-a/medusa");

    it("a device may publish its own sensor data to a rule the policy names", () => {
      fc.assert(
        fc.property(
          prefixes,
          ids,
          fc.uniqueArray(rules, { minLength: 1, maxLength: 3 }),
          (p, id, named) => {
            for (const rule of named) {
              const topic = basicIngestTopic(rule, `${p}/${id}/sensor/data`);
              expect(mayPublish(p, id, topic, named)).toEqual({ allowed: true });
              expect(devicePublishTopics(p, id, named)).toContain(topic);
            }
          },
        ),
      );
    });

    it("never another device's, never another rule's, never its other topics, never without a rule in the policy", () => {
      fc.assert(
        fc.property(prefixes, ids, ids, rules, rules, (p, id, other, rule, unnamed) => {
          fc.pre(other !== id && unnamed !== rule);
          const refused = [
            basicIngestTopic(rule, `${p}/${other}/sensor/data`),
            basicIngestTopic(unnamed, `${p}/${id}/sensor/data`),
            basicIngestTopic(rule, `${p}/${id}/status`),
            basicIngestTopic(rule, `${p}/${id}/device/info`),
            basicIngestTopic(rule, `${p}/${id}/commands/response`),
            basicIngestTopic(rule, `$aws/things/${id}/shadow/update`),
            basicIngestTopic(rule, `other/${id}/sensor/data`),
            `${BASIC_INGEST_PREFIX}${rule}`,
            `${BASIC_INGEST_PREFIX}${rule}/${p}/${id}/sensor/data/x`,
          ];
          for (const topic of refused) {
            const verdict = mayPublish(p, id, topic, [rule]);
            expect([topic, verdict.allowed]).toEqual([topic, false]);
            if (!verdict.allowed) expect(verdict.reason).toContain(topic);
          }
          // Without a rule in the policy, not even its own sensor data.
          expect(mayPublish(p, id, basicIngestTopic(rule, `${p}/${id}/sensor/data`)).allowed).toBe(
            false,
          );
          // Under $aws/rules/ the policy grants one topic per rule, nothing more.
          expect(
            devicePublishTopics(p, id, [rule]).filter((t) => t.startsWith(BASIC_INGEST_PREFIX)),
          ).toEqual([basicIngestTopic(rule, `${p}/${id}/sensor/data`)]);
        }),
      );
    });

    it("says which topic a device may use instead", () => {
      expect(
        mayPublish("medusa", "pi-1", "$aws/rules/other/medusa/pi-1/sensor/data", ["medusa_ingest"]),
      ).toEqual({
        allowed: false,
        reason:
          "pi-1 may publish under $aws/rules/ only its own sensor data to medusa_ingest ($aws/rules/medusa_ingest/medusa/pi-1/sensor/data), not $aws/rules/other/medusa/pi-1/sensor/data",
      });
      expect(mayPublish("medusa", "pi-1", "$aws/rules/r/medusa/pi-1/sensor/data")).toEqual({
        allowed: false,
        reason:
          "the policy grants pi-1 no Basic Ingest topic, not $aws/rules/r/medusa/pi-1/sensor/data",
      });
    });

    it("a device subscribes to no Basic Ingest topic, its own included (AWS: nobody can)", () => {
      for (const f of ["$aws/rules/#", "$aws/rules/r/medusa/pi-1/sensor/data", "$aws/rules/+/#"])
        expect([f, maySubscribe("medusa", "pi-1", f).allowed]).toEqual([f, false]);
    });
  });
});
