import { describe, expect, it } from "vitest";
import { mayPublish, maySubscribe } from "./topic-rights.js";

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
});
