import { Arbitrary, Option } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DeviceId, deviceId } from "./ids.js";
import {
  basicIngestTopic,
  deviceTopics,
  filterFor,
  parseBasicIngestTopic,
  parseDeviceId,
  RuleName,
  topicFor,
  topicMatches,
  topicTemplates,
  validateTemplate,
} from "./topics.js";

const template = "medusa/{device_id}/sensor/data";

describe("topics", () => {
  it("builds a device's topics from the prefix", () => {
    expect(deviceTopics(deviceId("pi-01"))).toEqual({
      sensorData: "medusa/pi-01/sensor/data",
      status: "medusa/pi-01/status",
      deviceInfo: "medusa/pi-01/device/info",
      commands: "medusa/pi-01/commands/#",
      commandResponse: "medusa/pi-01/commands/response",
    });
    expect(deviceTopics(deviceId("pi-01"), "clinic-a").status).toBe("clinic-a/pi-01/status");
  });

  it("parses back the device id of any valid device, and nothing else", () => {
    fc.assert(
      fc.property(Arbitrary.make(DeviceId), (id) => {
        const topic = topicFor(template, id);
        expect(Option.getOrNull(parseDeviceId(template, topic))).toBe(id);
        expect(topicMatches(filterFor(template), topic)).toBe(true);
        expect(topic.split("/")).toHaveLength(4);
      }),
    );
  });

  it("a device id can never inject topic levels or wildcards", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const parsed = parseDeviceId(template, `medusa/${s}/sensor/data`);
        if (/[/+#]/.test(s) || s.length === 0) expect(Option.isNone(parsed)).toBe(true);
      }),
    );
    for (const bad of ["a/b", "+", "#", "a+", "", "x".repeat(129)]) {
      expect(() => deviceId(bad)).toThrow();
    }
    expect(Option.isNone(parseDeviceId(template, "medusa/a/b/sensor/data"))).toBe(true);
    expect(Option.isNone(parseDeviceId(template, "other/a/sensor/data"))).toBe(true);
  });

  it("rejects templates without exactly one whole {device_id} level, or with wildcards", () => {
    for (const bad of [
      "medusa/sensor",
      "medusa/{device_id}/{device_id}",
      "medusa/x{device_id}/a",
      "medusa/{device_id}/#",
      "medusa//{device_id}",
    ]) {
      expect(validateTemplate(bad)?._tag).toBe("InvalidTopicTemplate");
    }
    for (const good of Object.values(topicTemplates("a/b")))
      expect(validateTemplate(good)).toBeUndefined();
  });

  it("matches MQTT filters with + and #", () => {
    const cases: Array<[string, string, boolean]> = [
      ["medusa/+/sensor/data", "medusa/pi/sensor/data", true],
      ["medusa/+/sensor/data", "medusa/pi/status", false],
      ["medusa/pi/commands/#", "medusa/pi/commands", true],
      ["medusa/pi/commands/#", "medusa/pi/commands/ping", true],
      ["medusa/pi/commands/#", "medusa/pi/commands/a/b", true],
      ["medusa/pi/commands/#", "medusa/other/commands/ping", false],
      ["#", "medusa/x", true],
      ["#", "$aws/things/pi/shadow/update", false],
      ["+/things/pi/shadow/update", "$aws/things/pi/shadow/update", false],
      ["$aws/things/+/shadow/#", "$aws/things/pi/shadow/update/accepted", true],
      ["medusa/+", "medusa/a/b", false],
      ["medusa/a/b", "medusa/a", false],
    ];
    for (const [filter, topic, expected] of cases)
      expect([filter, topic, topicMatches(filter, topic)]).toEqual([filter, topic, expected]);
  });

  it("a filter without wildcards matches exactly its own topic", () => {
    const level = fc.stringMatching(/^[a-z0-9]{1,4}$/);
    fc.assert(
      fc.property(
        fc.array(level, { minLength: 1, maxLength: 4 }),
        fc.array(level, { minLength: 1, maxLength: 4 }),
        (a, b) => {
          expect(topicMatches(a.join("/"), b.join("/"))).toBe(a.join("/") === b.join("/"));
          expect(topicMatches(`${a.join("/")}/#`, [...a, ...b].join("/"))).toBe(true);
        },
      ),
    );
  });

  it("puts a topic behind a rule's Basic Ingest prefix and reads back the rule and the topic the rule's topic() gives", () => {
    fc.assert(
      fc.property(Arbitrary.make(RuleName), Arbitrary.make(DeviceId), (rule, id) => {
        const plain = topicFor(template, id);
        const topic = basicIngestTopic(rule, plain);
        expect(topic).toBe(`$aws/rules/${rule}/${plain}`);
        expect(Option.getOrNull(parseBasicIngestTopic(topic))).toEqual({ rule, topic: plain });
        // The rule's FROM filter is written for the plain topic: it still selects it.
        expect(topicMatches(filterFor(template), plain)).toBe(true);
        // No MQTT wildcard in a first level matches a $ topic.
        expect(topicMatches("#", topic)).toBe(false);
      }),
    );
    for (const bad of ["medusa-ingest", "a/b", "", "x".repeat(129), "rule+", "$aws"])
      expect(() => basicIngestTopic(bad, "medusa/pi/sensor/data")).toThrow(/rule name/);
    expect(() => basicIngestTopic("x".repeat(128), "t")).not.toThrow();
    for (const notBasicIngest of [
      "medusa/pi/sensor/data",
      "$aws/rules",
      "$aws/rules/",
      "$aws/rules/r",
      "$aws/rules/r/",
      "$aws/rules//medusa/pi/sensor/data",
      "$aws/things/pi/shadow/update",
    ])
      expect([notBasicIngest, Option.isNone(parseBasicIngestTopic(notBasicIngest))]).toEqual([
        notBasicIngest,
        true,
      ]);
  });
});
