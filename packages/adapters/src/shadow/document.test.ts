import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  deleteShadow,
  deltaOf,
  getShadow,
  MAX_CLIENT_TOKEN_BYTES,
  SHADOW_STATE_LIMIT_BYTES,
  type ShadowRecord,
  stateBytes,
  type UpdateOutcome,
  updateShadow,
} from "./document.js";
import { isObject, type Json, type JsonObject, jsonEqual } from "./json.js";
import { parseShadowRequest, shadowTopic } from "./topics.js";

const s = (seconds: number) => seconds * 1000;
const json = (value: unknown) => JSON.stringify(value);

/** A record as a get response shows it (state, metadata, version). */
const recordOf = (document: {
  state: { desired?: JsonObject; reported?: JsonObject };
  metadata: { desired?: JsonObject; reported?: JsonObject };
  version: number;
}): ShadowRecord => ({
  version: document.version,
  state: document.state,
  metadata: document.metadata,
});

const accepted = (outcome: UpdateOutcome) => {
  if (!outcome.ok) throw new Error(`rejected: ${json(outcome.error)}`);
  return outcome;
};

/** Applies updates in turn; each must be accepted. */
const run = (record: ShadowRecord | undefined, ...requests: Array<[unknown, number]>) => {
  let r = record;
  for (const [request, at] of requests) r = accepted(updateShadow(r, json(request), at)).record;
  return r as ShadowRecord;
};

describe("the shadow service's documented behaviour", () => {
  // The responses below were recorded from AWS IoT Core and published with the
  // AWS IoT Device SDK v2's shadow sample (samples/node/service_clients/shadow/README.md).
  describe("the SDK sample's session against AWS IoT Core, response for response", () => {
    it("a desired change: /update/accepted, /update/documents and /update/delta", () => {
      const v4 = recordOf({
        state: { desired: { Color: "green" }, reported: { Color: "green" } },
        metadata: {
          desired: { Color: { timestamp: 1719855311 } },
          reported: { Color: { timestamp: 1719853620 } },
        },
        version: 4,
      });
      const out = accepted(
        updateShadow(
          v4,
          json({
            state: { desired: { Color: "red" } },
            clientToken: "79737dba-2252-406e-9204-3dec049eebce",
          }),
          s(1719855498),
        ),
      );
      expect(json(out.accepted)).toBe(
        '{"state":{"desired":{"Color":"red"}},"metadata":{"desired":{"Color":{"timestamp":1719855498}}},"version":5,"timestamp":1719855498,"clientToken":"79737dba-2252-406e-9204-3dec049eebce"}',
      );
      expect(json(out.documents)).toBe(
        '{"previous":{"state":{"desired":{"Color":"green"},"reported":{"Color":"green"}},"metadata":{"desired":{"Color":{"timestamp":1719855311}},"reported":{"Color":{"timestamp":1719853620}}},"version":4},"current":{"state":{"desired":{"Color":"red"},"reported":{"Color":"green"}},"metadata":{"desired":{"Color":{"timestamp":1719855498}},"reported":{"Color":{"timestamp":1719853620}}},"version":5},"timestamp":1719855498,"clientToken":"79737dba-2252-406e-9204-3dec049eebce"}',
      );
      expect(json(out.delta)).toBe(
        '{"version":5,"timestamp":1719855498,"state":{"Color":"red"},"metadata":{"Color":{"timestamp":1719855498}},"clientToken":"79737dba-2252-406e-9204-3dec049eebce"}',
      );

      // The device reports the change: back in sync, so no delta.
      const synced = accepted(
        updateShadow(
          out.record,
          json({
            state: { reported: { Color: "red" } },
            clientToken: "1317558e-0f69-40d7-8bdd-d3301a1cd6f7",
          }),
          s(1719856038),
        ),
      );
      expect(json(synced.accepted)).toBe(
        '{"state":{"reported":{"Color":"red"}},"metadata":{"reported":{"Color":{"timestamp":1719856038}}},"version":6,"timestamp":1719856038,"clientToken":"1317558e-0f69-40d7-8bdd-d3301a1cd6f7"}',
      );
      expect(json(synced.documents)).toBe(
        '{"previous":{"state":{"desired":{"Color":"red"},"reported":{"Color":"green"}},"metadata":{"desired":{"Color":{"timestamp":1719855498}},"reported":{"Color":{"timestamp":1719853620}}},"version":5},"current":{"state":{"desired":{"Color":"red"},"reported":{"Color":"red"}},"metadata":{"desired":{"Color":{"timestamp":1719855498}},"reported":{"Color":{"timestamp":1719856038}}},"version":6},"timestamp":1719856038,"clientToken":"1317558e-0f69-40d7-8bdd-d3301a1cd6f7"}',
      );
      expect(synced.delta).toBeUndefined();
    });

    it("a reported change that leaves desired behind republishes the delta, with desired's metadata", () => {
      const v8 = recordOf({
        state: {
          desired: { Color: "red", Status: "Great" },
          reported: { Color: "red", Status: "Great" },
        },
        metadata: {
          desired: { Color: { timestamp: 1719855498 }, Status: { timestamp: 1719856710 } },
          reported: { Color: { timestamp: 1719856038 }, Status: { timestamp: 1719856694 } },
        },
        version: 8,
      });
      const out = accepted(
        updateShadow(
          v8,
          json({
            state: { reported: { Status: "Awful" } },
            clientToken: "05ed8956-4958-4fcc-bdd8-e454182c3a45",
          }),
          s(1719857563),
        ),
      );
      expect(json(out.accepted)).toBe(
        '{"state":{"reported":{"Status":"Awful"}},"metadata":{"reported":{"Status":{"timestamp":1719857563}}},"version":9,"timestamp":1719857563,"clientToken":"05ed8956-4958-4fcc-bdd8-e454182c3a45"}',
      );
      expect(json(out.documents)).toBe(
        '{"previous":{"state":{"desired":{"Color":"red","Status":"Great"},"reported":{"Color":"red","Status":"Great"}},"metadata":{"desired":{"Color":{"timestamp":1719855498},"Status":{"timestamp":1719856710}},"reported":{"Color":{"timestamp":1719856038},"Status":{"timestamp":1719856694}}},"version":8},"current":{"state":{"desired":{"Color":"red","Status":"Great"},"reported":{"Color":"red","Status":"Awful"}},"metadata":{"desired":{"Color":{"timestamp":1719855498},"Status":{"timestamp":1719856710}},"reported":{"Color":{"timestamp":1719856038},"Status":{"timestamp":1719857563}}},"version":9},"timestamp":1719857563,"clientToken":"05ed8956-4958-4fcc-bdd8-e454182c3a45"}',
      );
      expect(json(out.delta)).toBe(
        '{"version":9,"timestamp":1719857563,"state":{"Status":"Great"},"metadata":{"Status":{"timestamp":1719856710}},"clientToken":"05ed8956-4958-4fcc-bdd8-e454182c3a45"}',
      );

      // Null removes a property from each section; a get shows what is left.
      const v11 = run(
        out.record,
        [{ state: { reported: { Status: null } } }, s(1719858000)],
        [{ state: { desired: { Status: null } } }, s(1719858100)],
      );
      const got = getShadow(
        v11,
        json({ clientToken: "72f05b90-b0a2-4ff5-8b1f-1931f7c39b9a" }),
        s(1719858143),
        "thing",
      );
      expect(got.ok && json(got.document)).toBe(
        '{"state":{"desired":{"Color":"red"},"reported":{"Color":"red"}},"metadata":{"desired":{"Color":{"timestamp":1719855498}},"reported":{"Color":{"timestamp":1719856038}}},"version":11,"timestamp":1719858143,"clientToken":"72f05b90-b0a2-4ff5-8b1f-1931f7c39b9a"}',
      );
    });

    it("the first update creates the shadow: version 1, no previous document", () => {
      const out = accepted(
        updateShadow(
          undefined,
          json({
            state: { reported: { Color: "green" } },
            clientToken: "2e073dae-7c50-458f-a495-c16fae14a406",
          }),
          s(1719853620),
        ),
      );
      expect(json(out.accepted)).toBe(
        '{"state":{"reported":{"Color":"green"}},"metadata":{"reported":{"Color":{"timestamp":1719853620}}},"version":1,"timestamp":1719853620,"clientToken":"2e073dae-7c50-458f-a495-c16fae14a406"}',
      );
      expect(json(out.documents)).toBe(
        '{"previous":null,"current":{"state":{"reported":{"Color":"green"}},"metadata":{"reported":{"Color":{"timestamp":1719853620}}},"version":1},"timestamp":1719853620,"clientToken":"2e073dae-7c50-458f-a495-c16fae14a406"}',
      );
    });

    it("no shadow: 404 naming it; a delete answers the version it had", () => {
      const missing = getShadow(undefined, json({ clientToken: "t-1" }), s(1), "my-thing");
      expect(missing).toMatchObject({
        ok: false,
        error: {
          code: 404,
          message: "No shadow exists with name: 'my-thing'",
          clientToken: "t-1",
        },
      });
      const v13 = { ...recordOf({ state: { desired: { a: 1 } }, metadata: {}, version: 13 }) };
      const deleted = deleteShadow(
        v13,
        json({ clientToken: "14e3c6d4-8544-4828-8e51-4abeb9058206" }),
        s(1719858420),
        "thing",
      );
      expect(deleted.ok && json(deleted.accepted)).toBe(
        '{"version":13,"timestamp":1719858420,"clientToken":"14e3c6d4-8544-4828-8e51-4abeb9058206"}',
      );
    });
  });

  // The developer guide's examples ("Device Shadow service documents", "Interacting with shadows").
  describe("the developer guide's examples", () => {
    it("delta: desired fields reported differently or not at all; reported-only fields are not in it", () => {
      const r = run(undefined, [
        {
          state: {
            desired: { color: "RED", state: "STOP" },
            reported: { color: "GREEN", engine: "ON" },
          },
        },
        s(12345),
      ]);
      const got = getShadow(r, "", s(123456789), "t");
      expect(got.ok && got.document.state).toEqual({
        desired: { color: "RED", state: "STOP" },
        reported: { color: "GREEN", engine: "ON" },
        delta: { color: "RED", state: "STOP" },
      });
      // "The delta contains metadata, and its values are equal to the metadata in the desired field."
      expect(got.ok && (got.document.metadata as JsonObject).delta).toEqual({
        color: { timestamp: 12345 },
        state: { timestamp: 12345 },
      });
    });

    it("nested objects: the delta keeps the path to the root and only the differing leaves", () => {
      expect(
        deltaOf(
          { lights: { color: { r: 255, g: 255, b: 255 } } },
          { lights: { color: { r: 255, g: 0, b: 255 } } },
        ),
      ).toEqual({ lights: { color: { g: 255 } } });
    });

    it("arrays are values: replaced whole, copied whole into the delta, never holding null", () => {
      const r = run(
        undefined,
        [{ state: { desired: { colors: ["RED", "GREEN", "BLUE"] } } }, s(1)],
        [{ state: { desired: { colors: ["RED"] } } }, s(2)],
      );
      expect(r.state.desired).toEqual({ colors: ["RED"] });
      expect(r.metadata.desired).toEqual({ colors: [{ timestamp: 2 }] });
      expect(deltaOf({ colors: ["RED", "BLUE"] }, { colors: ["RED"] })).toEqual({
        colors: ["RED", "BLUE"],
      });
      expect(
        updateShadow(r, json({ state: { desired: { colors: [null, "RED", "GREEN"] } } }), s(3)),
      ).toMatchObject({ ok: false, error: { code: 400 } });
    });

    it("optimistic locking: an update naming an older version is refused; the current one is taken", () => {
      const v10: ShadowRecord = {
        version: 10,
        state: { desired: { colors: ["RED", "GREEN", "BLUE"] } },
        metadata: { desired: { colors: [{ timestamp: 1 }, { timestamp: 1 }, { timestamp: 1 }] } },
      };
      const stale = updateShadow(
        v10,
        json({
          state: { desired: { colors: ["BLUE"] } },
          version: 9,
          clientToken: "426bfd96-e720-46d3-95cd-014e3ef12bb6",
        }),
        s(1591057529),
      );
      expect(stale).toEqual({
        ok: false,
        error: {
          code: 409,
          message: "Version conflict",
          timestamp: 1591057529,
          clientToken: "426bfd96-e720-46d3-95cd-014e3ef12bb6",
        },
      });
      const fresh = accepted(
        updateShadow(v10, json({ state: { desired: { colors: ["BLUE"] } }, version: 10 }), s(2)),
      );
      expect(fresh.record).toMatchObject({ state: { desired: { colors: ["BLUE"] } }, version: 11 });
    });

    it("null removes a property; a section set to null is removed; a shadow may be empty", () => {
      const r = run(
        undefined,
        [{ state: { desired: { engine: "ON", color: "red" } } }, s(1)],
        [{ state: { desired: { engine: null } } }, s(2)],
      );
      expect(r.state).toEqual({ desired: { color: "red" } });
      const cleared = accepted(
        updateShadow(r, json({ state: { reported: { color: "red" }, desired: null } }), s(3)),
      );
      expect(cleared.record.state).toEqual({ reported: { color: "red" } });
      expect(cleared.accepted).toMatchObject({
        state: { reported: { color: "red" }, desired: null },
        metadata: { reported: { color: { timestamp: 3 } }, desired: { timestamp: 3 } },
      });
      // Both sections cleared: the shadow still exists ("does not delete the shadow"), and is empty.
      const empty = run(cleared.record, [{ state: null }, s(4)]);
      const got = getShadow(empty, "", s(5), "t");
      expect(got.ok && got.document).toEqual({
        state: {},
        metadata: {},
        version: 4,
        timestamp: 5,
      });
    });

    it("deleting keeps the version: a shadow created again continues it, within 48 hours", () => {
      const v4 = run(
        undefined,
        [{ state: { reported: { a: 1 } } }, s(1)],
        [{ state: { reported: { a: 2 } } }, s(2)],
        [{ state: { reported: { a: 3 } } }, s(3)],
        [{ state: { reported: { a: 4 } } }, s(4)],
      );
      const deleted = deleteShadow(v4, "", s(5), "t");
      if (!deleted.ok) throw new Error("not deleted");
      expect(deleted.accepted).toEqual({ version: 4, timestamp: 5 });
      expect(getShadow(deleted.record, "", s(6), "t")).toMatchObject({ error: { code: 404 } });
      expect(deleteShadow(deleted.record, "", s(6), "t")).toMatchObject({ error: { code: 404 } });
      const again = accepted(updateShadow(deleted.record, json({ state: { reported: {} } }), s(7)));
      expect(again.record.version).toBe(5);
      expect(again.documents.previous).toBeNull();
      // A version naming the kept one is the current version.
      expect(updateShadow(deleted.record, json({ state: {}, version: 4 }), s(7)).ok).toBe(true);
      const later = updateShadow(deleted.record, json({ state: {} }), s(5) + 48 * 3600_000 + 1);
      expect(accepted(later).record.version).toBe(1);
    });
  });

  describe("the documented rejections", () => {
    const base = run(undefined, [{ state: { desired: { a: 1 } } }, s(1)]);
    const reject = (payload: string | Uint8Array) => {
      const out = updateShadow(base, payload, s(2));
      return out.ok ? undefined : { code: out.error.code, message: out.error.message };
    };

    it("400: every documented message", () => {
      expect(reject("{not json")).toEqual({ code: 400, message: "Invalid JSON" });
      expect(reject("")).toEqual({ code: 400, message: "Invalid JSON" });
      expect(reject("[1]")).toEqual({ code: 400, message: "Invalid JSON" });
      expect(reject(json({ clientToken: "x" }))).toEqual({
        code: 400,
        message: "Missing required node: state",
      });
      expect(reject(json({ state: 5 }))).toEqual({
        code: 400,
        message: "State node must be an object",
      });
      expect(reject(json({ state: { desired: [1] } }))).toEqual({
        code: 400,
        message: "Desired node must be an object",
      });
      expect(reject(json({ state: { reported: "on" } }))).toEqual({
        code: 400,
        message: "Reported node must be an object",
      });
      for (const version of [-1, 1.5, "3", null])
        expect(reject(json({ state: {}, version }))).toEqual({
          code: 400,
          message: "Invalid version",
        });
      expect(
        reject(json({ state: {}, clientToken: "x".repeat(MAX_CLIENT_TOKEN_BYTES + 1) })),
      ).toEqual({ code: 400, message: "Invalid clientToken" });
      // Bytes, not characters: 22 three-byte characters are 66 bytes.
      expect(reject(json({ state: {}, clientToken: "€".repeat(22) }))?.message).toBe(
        "Invalid clientToken",
      );
      expect(reject(json({ state: {}, clientToken: 42 }))?.message).toBe("Invalid clientToken");
      expect(reject(json({ state: { delta: { a: 1 } } }))).toEqual({
        code: 400,
        message: "State contains an invalid node",
      });
      expect(reject(json({ state: { desired: { a: 1 }, other: 1 } }))?.message).toBe(
        "State contains an invalid node",
      );
    });

    it("400: nesting beyond 6 levels, desired and reported counting as the first", () => {
      const nest = (levels: number): Json =>
        levels === 0 ? 1 : { [`l${levels}`]: nest(levels - 1) };
      // desired + 5 nested objects = 6 levels of objects: taken.
      expect(reject(json({ state: { desired: nest(6) } }))).toBeUndefined();
      expect(reject(json({ state: { reported: nest(7) } }))).toEqual({
        code: 400,
        message: "JSON contains too many levels of nesting; maximum is 6",
      });
      // Arrays are levels too.
      expect(reject(json({ state: { desired: { a: [[[[[[1]]]]]] } } }))?.message).toMatch(
        /too many levels/,
      );
    });

    it("413: desired and reported as stored over 8 KB, even when the request is small", () => {
      const full = run(undefined, [
        { state: { reported: { big: "x".repeat(SHADOW_STATE_LIMIT_BYTES - 200) } } },
        s(1),
      ]);
      expect(stateBytes(full.state)).toBeLessThanOrEqual(SHADOW_STATE_LIMIT_BYTES);
      const small = updateShadow(
        full,
        json({ state: { desired: { more: "y".repeat(300) } } }),
        s(2),
      );
      expect(small).toMatchObject({
        ok: false,
        error: { code: 413, message: "The payload exceeds the maximum size allowed" },
      });
      // Metadata does not count: many keys with small values fit.
      const keys = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`k${i}`, 1]));
      expect(updateShadow(undefined, json({ state: { reported: keys } }), s(1)).ok).toBe(true);
    });

    it("415: a payload that is not UTF-8", () => {
      expect(reject(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]))).toEqual({
        code: 415,
        message: "Unsupported documented encoding; supported encoding is UTF-8",
      });
    });

    it("a rejected request leaves the shadow as it was and echoes a valid clientToken", () => {
      const out = updateShadow(base, json({ state: { desired: "x" }, clientToken: "abc" }), s(2));
      expect(out).toEqual({
        ok: false,
        error: {
          code: 400,
          message: "Desired node must be an object",
          timestamp: 2,
          clientToken: "abc",
        },
      });
    });

    it("a get payload is empty or a JSON object carrying a clientToken", () => {
      expect(getShadow(base, "", s(3), "t").ok).toBe(true);
      expect(getShadow(base, "{}", s(3), "t").ok).toBe(true);
      expect(getShadow(base, "nope", s(3), "t")).toMatchObject({ error: { code: 400 } });
      expect(getShadow(base, json({ clientToken: "c" }), s(3), "t")).toMatchObject({
        document: { clientToken: "c" },
      });
    });
  });

  it("a key named __proto__ is data, never a prototype", () => {
    const r = run(undefined, [
      JSON.parse('{"state":{"desired":{"__proto__":{"polluted":1}}}}'),
      s(1),
    ]);
    expect(Object.getPrototypeOf(r.state.desired)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(r.state.desired ?? {})).toEqual(["__proto__"]);
    expect(
      Object.getOwnPropertyDescriptor(deltaOf(r.state.desired ?? {}, {}), "__proto__")?.value,
    ).toEqual({ polluted: 1 });
  });
});

describe("shadow topics", () => {
  it("parses requests of classic and named shadows, and nothing else", () => {
    expect(parseShadowRequest("$aws/things/pi-1/shadow/update")).toEqual({
      thing: "pi-1",
      operation: "update",
    });
    expect(parseShadowRequest("$aws/things/pi-1/shadow/name/config/get")).toEqual({
      thing: "pi-1",
      shadowName: "config",
      operation: "get",
    });
    for (const topic of [
      "$aws/things/pi-1/shadow/update/accepted",
      "$aws/things/pi-1/shadow/name/config/update/delta",
      "$aws/things/pi-1/shadow/name//get",
      `$aws/things/pi-1/shadow/name/${"n".repeat(65)}/get`,
      "$aws/things/pi+1/shadow/get",
      "$aws/things/pi-1/shadow/list",
      "$aws/things/pi-1/jobs/get",
      "medusa/pi-1/shadow/get",
    ])
      expect([topic, parseShadowRequest(topic)]).toEqual([topic, undefined]);
    expect(shadowTopic({ thing: "a", shadowName: "b" }, "update/delta")).toBe(
      "$aws/things/a/shadow/name/b/update/delta",
    );
  });
});

// ── Properties ───────────────────────────────────────────────────────────────

const key = fc.constantFrom("a", "b", "c", "rate", "interval", "__proto__");
const leaf = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom("x", "y", true, false),
  fc.array(fc.integer({ min: 0, max: 2 }), { maxLength: 3 }),
);
const tree: fc.Arbitrary<JsonObject> = fc.letrec<{ node: Json; object: JsonObject }>((tie) => ({
  node: fc.oneof({ depthSize: "small", maxDepth: 4, withCrossShrink: true }, leaf, tie("object")),
  object: fc
    .uniqueArray(fc.tuple(key, tie("node")), { maxLength: 4, selector: ([k]) => k })
    .map((entries) => {
      const o: Record<string, Json> = {};
      for (const [k, v] of entries)
        Object.defineProperty(o, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      return o;
    }),
})).object;

/** Every leaf (a value that is not a non-empty object) by its path. */
const leaves = (o: JsonObject, path: ReadonlyArray<string> = []): Array<[string[], Json]> =>
  Object.entries(o).flatMap(([k, v]) =>
    isObject(v) ? leaves(v, [...path, k]) : [[[...path, k], v] as [string[], Json]],
  );
const valueAt = (o: Json | undefined, path: ReadonlyArray<string>): Json | undefined =>
  path.reduce<Json | undefined>(
    (node, k) => (isObject(node) && Object.hasOwn(node, k) ? node[k] : undefined),
    o,
  );

describe("properties", () => {
  it("the delta is exactly the desired leaves that reported lacks or holds differently", () => {
    fc.assert(
      fc.property(tree, tree, (desired, reported) => {
        const delta = deltaOf(desired, reported);
        const expected = leaves(desired).filter(
          ([path, value]) =>
            !(isObject(value) && Object.keys(value).length === 0) &&
            !jsonEqual(valueAt(reported, path), value),
        );
        const got = leaves(delta);
        expect(got.map(([p]) => p.join("/")).sort()).toEqual(
          expected.map(([p]) => p.join("/")).sort(),
        );
        for (const [path, value] of got) expect(valueAt(desired, path)).toEqual(value);
      }),
    );
  });

  const op = fc.oneof(
    fc.record({
      kind: fc.constant("update" as const),
      section: fc.constantFrom("desired", "reported"),
      patch: tree,
      withVersion: fc.boolean(),
      stale: fc.boolean(),
    }),
    fc.record({
      kind: fc.constant("bad" as const),
      payload: fc.constantFrom("{", "[]", '{"state":1}', '{"state":{"x":{}}}'),
    }),
    fc.record({ kind: fc.constant("delete" as const) }),
  );

  it("every accepted update adds exactly 1 to the version; a rejection or a delete changes nothing of it", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 25 }), (ops) => {
        let record: ShadowRecord | undefined;
        let version = 0;
        let t = s(1_700_000_000);
        for (const o of ops) {
          t += 1000;
          if (o.kind === "delete") {
            const out = deleteShadow(record, "", t, "t");
            if (out.ok) {
              expect(out.accepted.version).toBe(version);
              record = out.record;
            }
            continue;
          }
          const payload =
            o.kind === "bad"
              ? o.payload
              : json({
                  state: { [o.section]: o.patch },
                  ...(o.withVersion ? { version: o.stale ? version + 1 : version } : {}),
                });
          const before = record;
          const out = updateShadow(record, payload, t);
          if (out.ok) {
            expect(out.record.version).toBe(version + 1);
            expect(out.accepted.version).toBe(version + 1);
            version++;
            record = out.record;
          } else {
            expect(record).toBe(before);
          }
        }
      }),
    );
  });

  it("a state is the merge of its updates, and its metadata names exactly its leaves", () => {
    fc.assert(
      fc.property(fc.array(tree, { minLength: 1, maxLength: 6 }), (patches) => {
        let record: ShadowRecord | undefined;
        let t = 0;
        for (const patch of patches) {
          t += 1000;
          record = accepted(updateShadow(record, json({ state: { desired: patch } }), t)).record;
        }
        const desired = record?.state.desired ?? {};
        const metadataPaths = (m: Json, path: string[] = []): string[] =>
          isObject(m) && !(Object.keys(m).length === 1 && typeof m.timestamp === "number")
            ? Object.entries(m).flatMap(([k, v]) => metadataPaths(v, [...path, k]))
            : [path.join("/")];
        expect(
          metadataPaths(record?.metadata.desired ?? {})
            .filter(Boolean)
            .sort(),
        ).toEqual(
          leaves(desired)
            .filter(([, v]) => !(isObject(v) && Object.keys(v).length === 0))
            .map(([p]) => p.join("/"))
            .sort(),
        );
      }),
    );
  });
});
