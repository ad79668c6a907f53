import { Either } from "effect";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { epochMillis } from "../ids.js";
import { parseDeviceCommand } from "./device-commands.js";
import { MAX_JSON_DEPTH, nestedDeeperThan } from "./json.js";
import { decodeSensorMessage, messageFromRuleEvent } from "./sensor-message.js";
import { decodeSensorPayload, parseSensorPayload } from "./sensor-payload.js";

const nested = (levels: number, leaf: unknown = 1, kind: "array" | "object" = "array") => {
  let value = leaf;
  for (let i = 0; i < levels; i++) value = kind === "array" ? [value] : { a: value };
  return value;
};
const now = epochMillis(1_763_625_600_000);
const topicTemplate = "medusa/{device_id}/sensor/data";

describe("hostile input: deep nesting, prototype keys, garbage", () => {
  it("measures nesting without recursion, at any depth", () => {
    expect(nestedDeeperThan(nested(MAX_JSON_DEPTH - 1))).toBe(false);
    expect(nestedDeeperThan(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(nestedDeeperThan(nested(1_000_000, 1, "object"))).toBe(true);
  });

  it("a deeply nested sensor payload is a typed rejection, not a stack overflow", () => {
    for (const payload of [
      { v: 1, t0: 1, n0: 0, s: [nested(100_000)] },
      { x: nested(100_000, 1, "object"), y: 0, z: 1, sequence: 1 },
    ]) {
      const r = decodeSensorPayload(payload);
      expect(Either.isLeft(r) && r.left.issues[0]?.message).toContain(
        "levels of arrays and objects",
      );
    }
    const text = `{"v":1,"t0":1,"n0":0,"s":[${"[".repeat(50_000)}${"]".repeat(50_000)}]}`;
    expect(Either.isLeft(parseSensorPayload(text))).toBe(true);
  });

  it("a deeply nested command is a typed rejection", () => {
    const r = parseDeviceCommand(
      `{"request_id":"r","command":${"[".repeat(50_000)}${"]".repeat(50_000)}}`,
    );
    expect(Either.isLeft(r) && r.left.reason).toBe("invalid command");
  });

  it("a __proto__ key in a rule event or a payload stays a key: no object gets a new prototype", () => {
    const event = JSON.parse(
      `{"__proto__":{"polluted":true},"x":0,"y":0,"z":1,"sequence":1,"topic":"medusa/pi-1/sensor/data","client_id":"pi-1","received_at":${now}}`,
    );
    const message = messageFromRuleEvent(event);
    expect(Object.getPrototypeOf(message.payload)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const decoded = decodeSensorMessage(message, { topicTemplate, now });
    expect(Either.isRight(decoded)).toBe(true);
    for (const text of [
      `{"__proto__":{"x":5},"y":0,"z":1,"sequence":1}`,
      `{"v":1,"t0":1763625600000,"n0":0,"s":[[0,0,0,0,1]],"__proto__":{"s":[]}}`,
    ]) {
      const r = parseSensorPayload(text);
      if (Either.isRight(r)) expect(Object.getPrototypeOf(r.right)).toBe(Object.prototype);
    }
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it("any JSON value, as bytes, text or parsed, through the rule's or the broker's door: a message or a typed rejection", () => {
    const json = fc.oneof(
      fc.jsonValue({ maxDepth: 40 }),
      fc.anything({ maxDepth: 5, withObjectString: true }),
      fc.integer({ min: 30, max: 3_000 }).map((n) => nested(n)),
    );
    fc.assert(
      fc.property(json, fc.constantFrom("parsed", "text", "bytes", "rule"), (value, door) => {
        const text = (() => {
          try {
            return JSON.stringify(value) ?? "null";
          } catch {
            return "null";
          }
        })();
        const message =
          door === "rule"
            ? messageFromRuleEvent(value)
            : {
                topic: "medusa/pi-1/sensor/data",
                clientId: "pi-1",
                receivedAt: now,
                payload:
                  door === "parsed"
                    ? value
                    : door === "text"
                      ? text
                      : new TextEncoder().encode(text),
              };
        const r = decodeSensorMessage(message, { topicTemplate, now });
        if (Either.isLeft(r)) expect(typeof r.left.reason).toBe("string");
        const c = parseDeviceCommand(text);
        if (Either.isLeft(c)) expect(c.left._tag).toBe("InvalidPayload");
      }),
    );
  });
});
