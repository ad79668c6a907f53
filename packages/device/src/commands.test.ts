import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Batcher } from "./batcher.js";
import { type CommandTarget, handleCommand } from "./commands.js";

const target = (): CommandTarget & { calls: Array<string> } => {
  const calls: Array<string> = [];
  return {
    calls,
    setSampleRate: async (hz) => {
      calls.push(`rate ${hz}`);
    },
    setPublishInterval: (ms) => calls.push(`interval ${ms}`),
    identify: (s) => calls.push(`identify ${s}`),
    ping: () => ({ uptime_s: 12 }),
  };
};
const now = () => 1_731_622_400_000;

describe("remote commands", () => {
  it("answers ping, set_sample_rate, set_publish_interval and identify with the request id", async () => {
    const t = target();
    expect(await handleCommand('{"request_id":"r1","command":"ping"}', t, now)).toEqual({
      request_id: "r1",
      ok: true,
      command: "ping",
      timestamp: now(),
      result: { uptime_s: 12 },
    });
    expect(
      await handleCommand(
        '{"request_id":"r2","command":"set_sample_rate","sample_rate_hz":50}',
        t,
        now,
      ),
    ).toMatchObject({ ok: true, result: { sample_rate_hz: 50 } });
    expect(
      await handleCommand(
        '{"request_id":"r3","command":"set_publish_interval","publish_interval_ms":500}',
        t,
        now,
      ),
    ).toMatchObject({ ok: true });
    expect(await handleCommand('{"request_id":"r4","command":"identify"}', t, now)).toMatchObject({
      ok: true,
      result: { duration_s: 10 },
    });
    expect(t.calls).toEqual(["rate 50", "interval 500", "identify 10"]);
  });

  it("refuses values out of range, unknown and malformed commands without acting", async () => {
    const t = target();
    expect(
      await handleCommand(
        '{"request_id":"r5","command":"set_sample_rate","sample_rate_hz":4000}',
        t,
        now,
      ),
    ).toMatchObject({ request_id: "r5", ok: false, error: { code: "invalid_command" } });
    expect(await handleCommand('{"request_id":"r6","command":"reboot"}', t, now)).toMatchObject({
      request_id: "r6",
      ok: false,
      error: { code: "unknown_command" },
    });
    expect(await handleCommand("not json", t, now)).toMatchObject({
      request_id: null,
      ok: false,
      error: { code: "invalid_command" },
    });
    expect(await handleCommand(new Uint8Array([0xff]), t, now)).toMatchObject({
      request_id: null,
      ok: false,
    });
    expect(t.calls).toEqual([]);
  });

  it("calls a command unknown by its command field, whatever else is wrong with the message", async () => {
    const code = async (raw: string | Uint8Array) => {
      const response = await handleCommand(raw, target(), now);
      return response.ok ? "ok" : response.error.code;
    };
    const bytes = (text: string, ...extra: Array<number>) =>
      new Uint8Array([...Buffer.from(text), ...extra]);
    expect(await code('{"request_id":"r","command":"PING"}')).toBe("unknown_command");
    expect(await code('{"request_id":"r","command":5}')).toBe("unknown_command");
    expect(await code('{"request_id":"r"}')).toBe("unknown_command");
    expect(await code("[]")).toBe("unknown_command");
    expect(await code('{"command":"ping"}')).toBe("invalid_command"); // no request id
    expect(await code('{"request_id":"r","command":"set_sample_rate"}')).toBe("invalid_command");
    expect(await code('"ping"')).toBe("invalid_command");
    // Not UTF-8: not JSON as the schema reads it, so malformed, not unknown.
    expect(await code(bytes('{"request_id":"r","command":"', 0xff, 0x22, 0x7d))).toBe(
      "invalid_command",
    );
  });

  it("reports a failing action as an error response", async () => {
    const t = { ...target(), setSampleRate: async () => Promise.reject(new Error("bus error")) };
    expect(
      await handleCommand(
        '{"request_id":"r7","command":"set_sample_rate","sample_rate_hz":20}',
        t,
        now,
      ),
    ).toMatchObject({ ok: false, error: { code: "command_failed", message: "bus error" } });
  });
});

describe("batcher", () => {
  it("numbers every reading and keeps all of them across batches", () => {
    const b = new Batcher(100);
    b.add(
      Array.from({ length: 9_001 }, (_, i) => ({
        timestamp: 1_731_622_400_000 + i,
        x: 0.00004,
        y: -0.123456,
        z: 1,
      })),
    );
    const batches = b.take();
    expect(batches.map((x) => x.length)).toEqual([4000, 4000, 1001]);
    expect(batches.flat().map((s) => s.sequence)).toEqual(
      Array.from({ length: 9_001 }, (_, i) => 100 + i),
    );
    expect(batches[0]?.[0]).toMatchObject({
      x: 0,
      y: -0.1235,
      z: 1,
      magnitude: Math.hypot(0, -0.1235, 1),
    });
    expect(b.take()).toEqual([]);
    expect(b.nextSequence).toBe(9_101);
  });
});

describe("hostile commands", () => {
  it("a command nested 100,000 levels deep is an invalid_command answer, not a crash", async () => {
    const deep = `{"request_id":"r-deep","command":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const r = await handleCommand(deep, target(), now);
    // Its command names no command the agent knows.
    expect(r).toMatchObject({
      ok: false,
      request_id: "r-deep",
      error: { code: "unknown_command" },
    });
    const deepField = `{"request_id":"r-deep","command":"identify","duration_s":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    expect(await handleCommand(deepField, target(), now)).toMatchObject({
      ok: false,
      error: { code: "invalid_command" },
    });
  });

  it("any input — deep, prototype-keyed, huge, not JSON — is answered, never thrown, and changes nothing unless valid", async () => {
    const nested = (n: number) => `${'{"a":'.repeat(n)}1${"}".repeat(n)}`;
    const inputs = fc.oneof(
      fc.jsonValue({ maxDepth: 8 }).map((v) => JSON.stringify(v) ?? "null"),
      fc.integer({ min: 33, max: 20_000 }).map((n) => `{"request_id":"r","command":${nested(n)}}`),
      fc.constantFrom(
        '{"__proto__":{"command":"ping"},"request_id":"r"}',
        '{"request_id":"r","command":"set_sample_rate","sample_rate_hz":50,"__proto__":{"x":1}}',
        `{"request_id":"${"r".repeat(100_000)}","command":"ping"}`,
      ),
      fc.uint8Array({ maxLength: 200 }),
    );
    await fc.assert(
      fc.asyncProperty(inputs, async (raw) => {
        const t = target();
        const r = await handleCommand(raw, t, now);
        if (!r.ok) expect(t.calls).toEqual([]);
        expect(({} as Record<string, unknown>).command).toBeUndefined();
      }),
    );
  });
});
