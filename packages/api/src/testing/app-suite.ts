import { clockFrom } from "@medusa/adapters";
import {
  makeInMemoryActivityStore,
  makeInMemoryAlerts,
  makeInMemoryDeviceStatuses,
  makeInMemoryIdempotencyKeys,
} from "@medusa/adapters/testing";
import {
  ActivityStore,
  type ActivityStoreService,
  Alerts,
  type AlertsService,
  AssignmentReadModel,
  type AssignmentReadModelService,
  DeviceStatuses,
  type DeviceStatusesService,
  deviceId,
  EventStore,
  type EventStoreService,
  enrich,
  epochMillis,
  IdempotencyKeys,
  type IdempotencyKeysService,
  patientId,
  SensorStore,
  type SensorStoreService,
  type StoredSegment,
  segmentKey,
} from "@medusa/domain";
import { sampleAt, T0 } from "@medusa/domain/testing";
import { Effect, Layer } from "effect";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createApp } from "../app.js";
import type { ApiPorts } from "../context.js";
import { signToken, testAuth } from "./index.js";

/** The stores an app under test runs on. */
export interface Stores {
  readonly events: EventStoreService;
  readonly readModel: AssignmentReadModelService;
  readonly sensors: SensorStoreService;
  /** In memory when absent. */
  readonly idempotency?: IdempotencyKeysService;
  /** In memory when absent. */
  readonly deviceStatuses?: DeviceStatusesService;
  /** In memory when absent. */
  readonly alerts?: AlertsService;
  readonly activity?: ActivityStoreService;
}

/** The stores as the app's ports, with a clock that reads `now`. */
export const portsOf = (stores: Stores, now: () => number = Date.now): Layer.Layer<ApiPorts> =>
  Layer.mergeAll(
    Layer.succeed(EventStore, stores.events),
    Layer.succeed(AssignmentReadModel, stores.readModel),
    Layer.succeed(SensorStore, stores.sensors),
    Layer.succeed(IdempotencyKeys, stores.idempotency ?? makeInMemoryIdempotencyKeys()),
    Layer.succeed(DeviceStatuses, stores.deviceStatuses ?? makeInMemoryDeviceStatuses()),
    Layer.succeed(Alerts, stores.alerts ?? makeInMemoryAlerts()),
    Layer.succeed(ActivityStore, stores.activity ?? makeInMemoryActivityStore()),
    clockFrom(now),
  );

/** How a test reaches the app: in process (`app.request`) or over HTTP. */
export interface Served {
  readonly fetch: (path: string, init: RequestInit) => Promise<Response>;
  readonly close: () => Promise<void>;
}

export interface ApiUnderTest {
  /** Fresh, empty stores for one test. */
  readonly stores: Stores;
  /** Stores whose every call fails as an unreachable database does. */
  readonly broken: Stores;
  readonly serve: (app: ReturnType<typeof createApp>) => Promise<Served>;
  readonly teardown?: () => Promise<void>;
}

/**
 * Every route and every error path of the API, run against the in-memory
 * stores (`app.test.ts`) and over HTTP against DynamoDB Local
 * (`server.int.test.ts`).
 */
export const apiSuite = (
  name: string,
  setup: () => Promise<ApiUnderTest>,
  options: { readonly numRuns?: number } = {},
) =>
  describe(`the API: ${name}`, () => {
    let clock = T0 + 3_600_000;
    let under: ApiUnderTest;
    let deps: Stores;
    let server: Served;
    let logs: Array<Record<string, unknown>>;
    let clinician: string;
    let viewer: string;

    beforeEach(async () => {
      clock = T0 + 3_600_000;
      under = await setup();
      deps = under.stores;
      logs = [];
      server = await under.serve(
        createApp({
          layer: portsOf(deps, () => clock),
          authenticate: testAuth(),
          log: (e) => logs.push(e),
        }),
      );
      clinician = await signToken({ email: "nurse@clinic.example", roles: ["clinician"] });
      viewer = await signToken({ email: "auditor@clinic.example", roles: ["viewer"] });
    });
    afterEach(async () => {
      await server.close();
      await under.teardown?.();
    });

    const stream = (device: string) => Effect.runPromise(deps.events.load(deviceId(device)));

    const call = (
      method: string,
      path: string,
      body?: unknown,
      token: string | null = clinician,
      headers: Record<string, string> = {},
    ) =>
      server.fetch(path, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { "content-type": "application/json" } : {}),
          ...headers,
        },
        ...(body !== undefined
          ? { body: typeof body === "string" ? body : JSON.stringify(body) }
          : {}),
      });
    const json = async (r: Response) => ({
      status: r.status,
      type: r.headers.get("content-type"),
      body: (await r.json()) as Record<string, unknown>,
    });
    const assign = (
      device = "pi-1",
      patient = "P1",
      extra: Record<string, unknown> = {},
      headers: Record<string, string> = {},
    ) =>
      call(
        "POST",
        "/api/devices/assign",
        { device_id: device, patient_id: patient, patient_name: `Name of ${patient}`, ...extra },
        clinician,
        headers,
      );

    describe("commands", () => {
      it("assigns: 201 with the assignment; the actor comes from the token", async () => {
        const r = await json(
          await assign("pi-1", "P1", { notes: "left wrist", assignment_timestamp: T0 }),
        );
        expect(r).toEqual({
          status: 201,
          type: "application/json",
          body: {
            status: "success",
            assignment: {
              device_id: "pi-1",
              patient_id: "P1",
              patient_name: "Name of P1",
              assigned_by: "nurse@clinic.example",
              assignment_timestamp: T0,
              assignment_end: null,
              ended_by: null,
              status: "active",
              notes: "left wrist",
            },
          },
        });
      });

      it("409 when the device is already assigned, naming the current patient and since when", async () => {
        await assign("pi-1", "P1", { assignment_timestamp: T0 });
        const r = await json(await assign("pi-1", "P2"));
        expect(r.status).toBe(409);
        expect(r.type).toBe("application/problem+json");
        expect(r.body).toMatchObject({
          type: expect.stringContaining("device-already-assigned"),
          current_patient_id: "P1",
          assigned_since: T0,
        });
      });

      it("refuses an actor in the body (unknown field) and a viewer", async () => {
        expect(
          (await json(await assign("pi-1", "P1", { assigned_by: "mallory@x.example" }))).body,
        ).toMatchObject({
          status: 400,
          errors: [expect.objectContaining({ path: "assigned_by" })],
        });
        const r = await json(
          await call(
            "POST",
            "/api/devices/assign",
            { device_id: "pi-1", patient_id: "P1", patient_name: "x" },
            viewer,
          ),
        );
        expect(r.status).toBe(403);
        expect((await stream("pi-1")).commits).toEqual([]);
      });

      it("unassigns with query parameters (the old route) or a JSON body", async () => {
        await assign("pi-1", "P1", { assignment_timestamp: T0 });
        expect(
          await json(
            await call(
              "POST",
              "/api/devices/unassign?device_id=pi-1&patient_id=P1&reason=device_returned",
            ),
          ),
        ).toMatchObject({ status: 200, body: { status: "device unassigned" } });
        await assign("pi-2", "P1", { assignment_timestamp: T0 });
        // Both at once is ambiguous: refused, and nothing ends.
        const both = await json(
          await call("POST", "/api/devices/unassign?device_id=pi-2", { patient_id: "P1" }),
        );
        expect(both).toMatchObject({
          status: 400,
          body: { detail: "give the fields as query parameters or as a JSON body, not both" },
        });
        expect(
          (await call("POST", "/api/devices/unassign", { device_id: "pi-2", patient_id: "P1" }))
            .status,
        ).toBe(200);
        const trail = await json(
          await call("GET", "/api/devices/pi-1/assignments", undefined, viewer),
        );
        expect(trail.body.assignments).toEqual([
          expect.objectContaining({
            status: "device_returned",
            ended_by: "nurse@clinic.example",
            assignment_end: clock,
          }),
        ]);
      });

      it("404 when there is nothing to end, 409 when it is another patient's", async () => {
        expect(
          (
            await json(
              await call("POST", "/api/devices/unassign", { device_id: "pi-9", patient_id: "P1" }),
            )
          ).body,
        ).toMatchObject({ status: 404, type: expect.stringContaining("no-active-assignment") });
        await assign("pi-9", "P1");
        clock += 1_000;
        expect(
          (
            await json(
              await call("POST", "/api/devices/unassign", { device_id: "pi-9", patient_id: "P2" }),
            )
          ).body,
        ).toMatchObject({ status: 409, type: expect.stringContaining("another-patient") });
      });

      it("reassigns in one commit; the audit trail reads newest first", async () => {
        await assign("pi-1", "P1", { assignment_timestamp: T0 });
        const r = await json(
          await call("POST", "/api/devices/reassign", {
            device_id: "pi-1",
            patient_id: "P2",
            patient_name: "B",
            reason: "completed",
            assignment_timestamp: T0 + 60_000,
          }),
        );
        expect(r.status).toBe(201);
        expect((await stream("pi-1")).commits).toHaveLength(2);
        const trail = await json(
          await call("GET", "/api/devices/pi-1/assignments", undefined, viewer),
        );
        expect(
          (trail.body.assignments as Array<Record<string, unknown>>).map((a) => [
            a.patient_id,
            a.assignment_timestamp,
            a.assignment_end,
            a.status,
          ]),
        ).toEqual([
          ["P2", T0 + 60_000, null, "active"],
          ["P1", T0, T0 + 60_000, "completed"],
        ]);
        expect(
          (await json(await call("GET", "/api/devices/pi-1/patient", undefined, viewer))).body,
        ).toEqual({
          device_id: "pi-1",
          patient: {
            patient_id: "P2",
            patient_name: "B",
            assignment_timestamp: T0 + 60_000,
            assigned_by: "nurse@clinic.example",
            notes: null,
          },
        });
        expect(
          (await json(await call("GET", "/api/devices/pi-7/patient", undefined, viewer))).body,
        ).toEqual({ device_id: "pi-7", patient: null });
      });

      it("422 for times before the device's last event or in the future", async () => {
        await assign("pi-1", "P1", { assignment_timestamp: T0 + 1_000 });
        expect(
          (
            await json(
              await call("POST", "/api/devices/reassign", {
                device_id: "pi-1",
                patient_id: "P2",
                patient_name: "B",
                assignment_timestamp: T0,
              }),
            )
          ).body,
        ).toMatchObject({
          status: 422,
          type: expect.stringContaining("time-before-last-event"),
          last_event_at: T0 + 1_000,
        });
        expect(
          (await json(await assign("pi-2", "P1", { assignment_timestamp: clock + 3_600_000 })))
            .body,
        ).toMatchObject({ status: 422, type: expect.stringContaining("time-in-future") });
      });

      it("patient_name is optional, as in the domain and the historical table", async () => {
        const r = await json(
          await call("POST", "/api/devices/assign", { device_id: "pi-1", patient_id: "P1" }),
        );
        expect([r.status, (r.body.assignment as { patient_name: unknown }).patient_name]).toEqual([
          201,
          null,
        ]);
        clock += 1_000;
        const handed = await json(
          await call("POST", "/api/devices/reassign", { device_id: "pi-1", patient_id: "P2" }),
        );
        expect(handed.status).toBe(201);
      });

      it("a retried command with the same Idempotency-Key returns the first result and appends nothing", async () => {
        const first = await assign("pi-1", "P1", {}, { "idempotency-key": "k-1" });
        clock += 5_000;
        const again = await assign("pi-1", "P1", {}, { "idempotency-key": "k-1" });
        expect(again.status).toBe(201);
        expect(await again.json()).toEqual(await first.json());
        expect(again.headers.get("idempotent-replayed")).toBe("true");
        expect((await stream("pi-1")).commits).toHaveLength(1);
        expect((await assign("pi-1", "P1", {}, { "idempotency-key": "k-2" })).status).toBe(409);
      });

      it("an Idempotency-Key sent again with another request is a 422, never the first request's result", async () => {
        const first = await assign("pi-1", "P1", {}, { "idempotency-key": "k-reused" });
        expect(first.status).toBe(201);
        // The same key: another patient, another device, another route's body.
        for (const [device, patient] of [
          ["pi-1", "P2"],
          ["pi-2", "P1"],
        ] as const) {
          const reused = await json(
            await assign(device, patient, {}, { "idempotency-key": "k-reused" }),
          );
          expect([reused.status, reused.body.type]).toEqual([
            422,
            "https://medusa-link.dev/problems/idempotency-key-reused",
          ]);
        }
        expect((await stream("pi-1")).commits).toHaveLength(1);
        expect((await stream("pi-2")).commits).toHaveLength(0);
        // The same request with the key is still the first one, replayed.
        const again = await assign("pi-1", "P1", {}, { "idempotency-key": "k-reused" });
        expect([again.status, again.headers.get("idempotent-replayed")]).toEqual([201, "true"]);
        // A key is the caller's own: another clinician's same key is another request.
        const other = await signToken({ email: "other@clinic.example", roles: ["clinician"] });
        const theirs = await call(
          "POST",
          "/api/devices/assign",
          { device_id: "pi-3", patient_id: "P3", patient_name: "x" },
          other,
          { "idempotency-key": "k-reused" },
        );
        expect(theirs.status).toBe(201);
      });

      it("an idempotency key is forgotten after a day: then the same key is a new request", async () => {
        await assign("pi-1", "P1", {}, { "idempotency-key": "k-day" });
        clock += 24 * 3_600_000 + 60_000;
        const later = await assign("pi-2", "P2", {}, { "idempotency-key": "k-day" });
        expect(later.status).toBe(201);
      });

      it("20 concurrent assigns of one device: exactly one 201", async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, k) => assign("pi-race", `P${k}`)),
        );
        expect(results.filter((r) => r.status === 201)).toHaveLength(1);
        expect(results.filter((r) => r.status === 409)).toHaveLength(19);
        // Every loser is told who won and since when, whether it lost the race or came after.
        const winner = await json(
          await call("GET", "/api/devices/pi-race/patient", undefined, viewer),
        );
        const patient = winner.body.patient as { patient_id: string; assignment_timestamp: number };
        for (const loser of results.filter((r) => r.status === 409))
          expect(await loser.json()).toMatchObject({
            type: "https://medusa-link.dev/problems/device-already-assigned",
            current_patient_id: patient.patient_id,
            assigned_since: patient.assignment_timestamp,
          });
      });
    });

    describe("queries", () => {
      const store = async (
        device: string,
        patient: string | null,
        from: number,
        n: number,
        seq0: number,
      ) => {
        const d = deviceId(device);
        const intervals = patient
          ? [
              {
                deviceId: d,
                patientId: patientId(patient),
                assignedBy: "n@c.example" as never,
                start: epochMillis(from),
                end: null,
              },
            ]
          : [];
        const samples = Array.from({ length: n }, (_, i) => sampleAt(from + i * 100, seq0 + i));
        const segments: Array<StoredSegment> = enrich(d, samples, intervals).map((s) => ({
          ...s,
          key: segmentKey(s.samples),
          attributedVersion: 1,
          // The fixtures are from 2024: with their own TTL, DynamoDB Local's TTL job could delete them.
          ttl: Math.ceil(Date.now() / 1000) + 86_400,
        }));
        await Effect.runPromise(deps.sensors.write(segments));
      };

      it("a patient's devices: active, and with include=history every one with intervals", async () => {
        await assign("pi-1", "P1", { assignment_timestamp: T0 });
        await assign("pi-2", "P1", { assignment_timestamp: T0 + 10 });
        await call("POST", "/api/devices/unassign", {
          device_id: "pi-1",
          patient_id: "P1",
          assignment_end: T0 + 100,
        });
        expect(
          (
            (await json(await call("GET", "/api/patients/P1/devices", undefined, viewer))).body
              .devices as Array<{ device_id: string }>
          ).map((d) => d.device_id),
        ).toEqual(["pi-2"]);
        const history = (
          await json(
            await call("GET", "/api/patients/P1/devices?include=history", undefined, viewer),
          )
        ).body.devices as Array<Record<string, unknown>>;
        expect(history.map((d) => [d.device_id, d.assignment_timestamp, d.assignment_end])).toEqual(
          [
            ["pi-1", T0, T0 + 100],
            ["pi-2", T0 + 10, null],
          ],
        );
      });

      it("sensor data by GET and by the old POST form, paged with a cursor", async () => {
        await store("pi-1", "P1", T0, 25, 0);
        await store("pi-2", "P2", T0, 5, 100);
        const page1 = await json(
          await call(
            "GET",
            `/api/patients/P1/sensor-data?start_time=${T0}&end_time=${T0 + 10_000}&limit=20`,
            undefined,
            viewer,
          ),
        );
        expect(page1.body).toMatchObject({ patient_id: "P1", count: 20 });
        expect((page1.body.data as Array<unknown>)[0]).toEqual({
          device_id: "pi-1",
          timestamp: T0,
          accel_x: 0.01,
          accel_y: -0.02,
          accel_z: 0.98,
          magnitude: expect.any(Number),
          sequence: 0,
        });
        const page2 = await json(
          await call(
            "POST",
            "/api/patients/P1/sensor-data",
            { start_time: T0, end_time: T0 + 10_000, limit: 20, cursor: page1.body.next_cursor },
            viewer,
          ),
        );
        expect(page2.body).toMatchObject({ count: 5, next_cursor: null });
        expect(
          (
            await json(
              await call(
                "GET",
                `/api/patients/P1/sensor-data?start_time=${T0}&end_time=${T0 + 10_000}&limit=10001`,
                undefined,
                viewer,
              ),
            )
          ).status,
        ).toBe(400);
        expect(
          (
            await json(
              await call(
                "GET",
                `/api/patients/P1/sensor-data?start_time=${T0}&end_time=${T0 + 10_000}&cursor=zzz`,
                undefined,
                viewer,
              ),
            )
          ).body,
        ).toMatchObject({ status: 400, type: expect.stringContaining("invalid-cursor") });
      });
      it("cursors are sealed: a crafted, tampered or foreign cursor is a 400 invalid-cursor, never a store's error", async () => {
        await store("pi-1", "P1", T0, 30, 0);
        const first = await json(
          await call(
            "GET",
            `/api/patients/P1/sensor-data?start_time=${T0}&end_time=${T0 + 10_000}&limit=5`,
            undefined,
            viewer,
          ),
        );
        const sealed = String(first.body.next_cursor);
        const raw = sealed.slice(0, sealed.lastIndexOf("."));
        const forged = (c: unknown) => Buffer.from(JSON.stringify(c)).toString("base64url");
        for (const cursor of [
          raw, // the store's cursor without its seal
          `${raw}.${"A".repeat(43)}`, // another seal
          `${forged({ t: 1e300, d: "pi-1", n: 0 })}.${sealed.slice(sealed.lastIndexOf(".") + 1)}`,
          // The seal's first character: all six of its bits are the seal's (the last one's
          // lowest bits are padding, which a decoder may ignore).
          `${raw}.${sealed.at(raw.length + 1) === "A" ? "B" : "A"}${sealed.slice(raw.length + 2)}`,
        ]) {
          const r = await json(
            await call(
              "GET",
              `/api/patients/P1/sensor-data?start_time=${T0}&end_time=${T0 + 10_000}&cursor=${encodeURIComponent(cursor)}`,
              undefined,
              viewer,
            ),
          );
          expect([r.status, r.body.type]).toEqual([
            400,
            "https://medusa-link.dev/problems/invalid-cursor",
          ]);
        }
      });
    });

    describe("edges", () => {
      it("a body nested thousands of levels deep, or with __proto__ keys, is a 400, never a 500 or a changed prototype", async () => {
        const deep = `{"device_id":"pi-1","patient_id":"P1","patient_name":"x","notes":${"[".repeat(30_000)}${"]".repeat(30_000)}}`;
        for (const body of [
          deep,
          `{"device_id":"pi-1","patient_id":"P1","patient_name":"x","__proto__":{"assigned_by":"boss@x.example"}}`,
          `{"__proto__":{"device_id":"pi-1","patient_id":"P1","patient_name":"x"}}`,
        ]) {
          const r = await json(await call("POST", "/api/devices/assign", body));
          expect([r.status, r.type]).toEqual([400, "application/problem+json"]);
        }
        const page = await json(
          await call(
            "POST",
            "/api/patients/P1/sensor-data",
            `{"start_time":${T0},"end_time":${T0 + 1},"cursor":${"[".repeat(30_000)}${"]".repeat(30_000)}}`,
            viewer,
          ),
        );
        expect(page.status).toBe(400);
        expect(({} as Record<string, unknown>).assigned_by).toBeUndefined();
        expect((await stream("pi-1")).commits).toHaveLength(0);
      });

      it("no response of /api is kept by a browser or a proxy (Cache-Control: no-store), problems included", async () => {
        await assign("pi-1", "P1");
        for (const [method, path, token] of [
          ["GET", "/api/devices/pi-1/patient", viewer],
          ["GET", "/api/patients/P1/devices", viewer],
          ["GET", `/api/patients/P1/sensor-data?start_time=${T0}&end_time=${T0 + 1}`, viewer],
          ["GET", "/api/devices/pi-1/patient", null],
          ["GET", "/api/nothing-here", viewer],
        ] as const) {
          const r = await call(method, path, undefined, token);
          expect([path, r.headers.get("cache-control")]).toEqual([path, "no-store"]);
        }
      });

      it("healthz and openapi need no token; everything else 401s without a valid one", async () => {
        expect((await call("GET", "/healthz", undefined, null)).status).toBe(200);
        const doc = (await json(await call("GET", "/openapi.json", undefined, null))).body;
        expect(doc.openapi).toBe("3.1.0");
        expect(Object.keys(doc.paths as object)).toContain(
          "/api/patients/{patient_id}/sensor-data",
        );
        expect(JSON.stringify(doc)).toContain("epoch milliseconds");
        expect((await call("GET", "/api/devices/pi-1/patient", undefined, null)).status).toBe(401);
        expect(
          (await call("GET", "/api/devices/pi-1/patient", undefined, "not.a.jwt")).status,
        ).toBe(401);
        const other = await signToken(
          { email: "x@y.example", roles: ["clinician"] },
          "another-secret-that-is-long-enough!!",
        );
        expect((await call("GET", "/api/devices/pi-1/patient", undefined, other)).status).toBe(401);
      });

      it("malformed JSON is a 400 problem, a body over 64 KB a 413, a bad id a 400 naming it", async () => {
        expect((await json(await call("POST", "/api/devices/assign", "{oops"))).body).toMatchObject(
          {
            status: 400,
            type: expect.stringContaining("malformed-json"),
          },
        );
        expect(
          (await call("POST", "/api/devices/assign", { device_id: "x".repeat(70_000) })).status,
        ).toBe(413);
        expect((await json(await assign("bad/id", "P1"))).body).toMatchObject({
          status: 400,
          errors: [expect.objectContaining({ path: "device_id" })],
        });
      });

      it("every response has a request id, and no log line holds patient data", async () => {
        const r = await assign("pi-1", "Patient-Secret-Id", { patient_name: "Ada Lovelace" });
        expect(r.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
        await call("GET", "/api/patients/Patient-Secret-Id/devices", undefined, viewer);
        const text = JSON.stringify(logs);
        expect(logs.every((l) => typeof l.request_id === "string")).toBe(true);
        expect(text).not.toContain("Patient-Secret-Id");
        expect(text).not.toContain("Ada Lovelace");
      });

      it("random JSON bodies — deep, prototype-keyed, huge — and random paths never produce a 500", async () => {
        const paths = fc.constantFrom(
          "/api/devices/assign",
          "/api/devices/unassign",
          "/api/devices/reassign",
          "/api/patients/P1/sensor-data",
          "/api/devices/x/patient",
          "/api/nope",
        );
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom("GET", "POST", "PUT", "DELETE"),
            fc.oneof(paths, fc.webPath()),
            fc.oneof(
              fc.json(),
              fc.jsonValue().map((v) => JSON.stringify(v)),
              fc.string(),
              // Nested far deeper than any request, as a field of a real one.
              fc
                .integer({ min: 33, max: 20_000 })
                .map(
                  (n) =>
                    `{"device_id":"pi-1","patient_id":"P1","patient_name":${"[".repeat(n)}${"]".repeat(n)}}`,
                ),
              fc
                .record({ device_id: fc.constant("pi-1"), patient_id: fc.constant("P1") })
                .map((r) => JSON.stringify(r).replace("{", '{"__proto__":{"patient_name":"x"},')),
              fc.integer({ min: 60_000, max: 80_000 }).map((n) => `"${"x".repeat(n)}"`),
            ),
            async (method, path, body) => {
              const r = await call(
                method,
                path.startsWith("/") ? path : `/${path}`,
                method === "GET" ? undefined : body,
              );
              expect(r.status).toBeLessThan(500);
            },
          ),
          options.numRuns === undefined ? {} : { numRuns: options.numRuns },
        );
      });
    });

    describe("more error paths", () => {
      it("reassign: 404 when nothing is assigned; 422 for an empty assignment", async () => {
        const r = await json(
          await call("POST", "/api/devices/reassign", {
            device_id: "pi-1",
            patient_id: "P2",
            patient_name: "B",
          }),
        );
        expect(r).toMatchObject({
          status: 404,
          type: "application/problem+json",
          body: { type: expect.stringContaining("no-active-assignment"), device_id: "pi-1" },
        });
        await assign("pi-1", "P1", { assignment_timestamp: T0 });
        const empty = await json(
          await call("POST", "/api/devices/unassign", {
            device_id: "pi-1",
            patient_id: "P1",
            assignment_end: T0,
          }),
        );
        expect(empty.body).toMatchObject({
          status: 422,
          type: expect.stringContaining("empty-assignment"),
        });
      });

      it("unknown fields are refused in bodies and query parameters alike, naming them", async () => {
        await assign("pi-1", "P1", { assignment_timestamp: T0 });
        const query = await json(
          await call(
            "POST",
            "/api/devices/unassign?device_id=pi-1&patient_id=P1&actor=x@y.example",
          ),
        );
        expect(query.body).toMatchObject({
          status: 400,
          errors: [expect.objectContaining({ path: "actor" })],
        });
        const body = await json(
          await call("POST", "/api/devices/reassign", {
            device_id: "pi-1",
            patient_id: "P2",
            patient_name: "B",
            ended_by: "x@y.example",
          }),
        );
        expect(body.body).toMatchObject({
          status: 400,
          errors: [expect.objectContaining({ path: "ended_by" })],
        });
        const timeline = await json(
          await call(
            "GET",
            `/api/patients/P1/sensor-data?start_time=${T0}&end_time=${T0 + 1}&device=pi-1`,
            undefined,
            viewer,
          ),
        );
        expect(timeline.body).toMatchObject({
          status: 400,
          errors: [expect.objectContaining({ path: "device" })],
        });
        const posted = await json(
          await call(
            "POST",
            "/api/patients/P1/sensor-data",
            { start_time: T0, end_time: T0 + 1, extra: 1 },
            viewer,
          ),
        );
        expect(posted.body).toMatchObject({
          status: 400,
          errors: [expect.objectContaining({ path: "extra" })],
        });
        expect((await stream("pi-1")).commits).toHaveLength(1);
      });

      it("bad query values: every failing field named; include other than history; an empty range", async () => {
        const missing = await json(
          await call("GET", "/api/patients/P1/sensor-data?limit=0", undefined, viewer),
        );
        expect(missing.status).toBe(400);
        expect((missing.body.errors as Array<{ path: string }>).map((e) => e.path).sort()).toEqual([
          "end_time",
          "limit",
          "start_time",
        ]);
        expect(
          (await call("GET", "/api/patients/P1/devices?include=everything", undefined, viewer))
            .status,
        ).toBe(400);
        expect(
          (
            await json(
              await call(
                "GET",
                `/api/patients/P1/sensor-data?start_time=${T0}&end_time=${T0}`,
                undefined,
                viewer,
              ),
            )
          ).body,
        ).toMatchObject({ status: 400, detail: expect.stringContaining("end_time") });
        // A bad path parameter is named as the failing field.
        for (const path of [
          "/api/patients/%20P1/devices",
          `/api/patients/%20P1/sensor-data?start_time=${T0}&end_time=${T0 + 1}`,
          "/api/devices/%20pi/patient",
          "/api/devices/%20pi/assignments",
        ]) {
          const bad = await json(await call("GET", path, undefined, viewer));
          expect([path, bad.status, (bad.body.errors as Array<{ path: string }>)[0]?.path]).toEqual(
            [path, 400, path.includes("patients") ? "patient_id" : "device_id"],
          );
        }
        // Routes that take no query parameters refuse them, naming them.
        for (const path of [
          "/api/devices/pi-1/patient?foo=1",
          "/api/devices/pi-1/assignments?foo=1",
        ]) {
          const bad = await json(await call("GET", path, undefined, viewer));
          expect([path, bad.status, (bad.body.errors as Array<{ path: string }>)[0]?.path]).toEqual(
            [path, 400, "foo"],
          );
        }
      });

      it("tokens: expired, without an e-mail, or without a role", async () => {
        const expired = await signToken(
          { email: "nurse@clinic.example", roles: ["clinician"] },
          undefined,
          "-1m",
        );
        const nameless = await signToken({ email: "not-an-email", roles: ["clinician"] });
        const roleless = await signToken({ email: "guest@clinic.example", roles: ["visitor"] });
        for (const token of [expired, nameless]) {
          const r = await json(await call("GET", "/api/devices/pi-1/patient", undefined, token));
          expect(r).toMatchObject({ status: 401, type: "application/problem+json" });
        }
        expect((await call("GET", "/api/devices/pi-1/patient", undefined, roleless)).status).toBe(
          403,
        );
        const r = await call("GET", "/api/devices/pi-1/patient", undefined, null);
        expect(r.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      });

      it("Idempotency-Key on unassign and reassign; too long a key is a 400", async () => {
        await assign("pi-1", "P1", { assignment_timestamp: T0 });
        const reassign = () =>
          call(
            "POST",
            "/api/devices/reassign",
            { device_id: "pi-1", patient_id: "P2", patient_name: "B" },
            clinician,
            { "idempotency-key": "hand-over-1" },
          );
        const first = await json(await reassign());
        clock += 1_000;
        const again = await json(await reassign());
        expect([first.status, again]).toEqual([201, first]);
        const unassign = () =>
          call("POST", "/api/devices/unassign?device_id=pi-1&patient_id=P2", undefined, clinician, {
            "idempotency-key": "end-1",
          });
        clock += 1_000;
        expect((await unassign()).status).toBe(200);
        clock += 1_000;
        const retried = await unassign();
        expect(retried.status).toBe(200);
        expect(retried.headers.get("idempotent-replayed")).toBe("true");
        expect((await stream("pi-1")).commits).toHaveLength(3);
        expect(
          (await assign("pi-2", "P1", {}, { "idempotency-key": "k".repeat(201) })).status,
        ).toBe(400);
      });

      it("storage failures are a 503 problem with no internals, and the operator's log says why; never a 500", async () => {
        const logged: Array<Record<string, unknown>> = [];
        const broken = await under.serve(
          createApp({
            layer: portsOf(under.broken),
            authenticate: testAuth(),
            log: (entry) => void logged.push(entry),
          }),
        );
        try {
          const requests: Array<[string, string, unknown, string]> = [
            [
              "POST",
              "/api/devices/assign",
              { device_id: "pi-1", patient_id: "P1", patient_name: "A" },
              clinician,
            ],
            ["GET", "/api/devices/pi-1/patient", undefined, viewer],
            ["GET", "/api/devices/pi-1/assignments", undefined, viewer],
            ["GET", "/api/patients/P1/devices", undefined, viewer],
            [
              "GET",
              `/api/patients/P1/sensor-data?start_time=${T0}&end_time=${T0 + 1}`,
              undefined,
              viewer,
            ],
          ];
          for (const [method, path, body, token] of requests) {
            const r = await broken.fetch(path, {
              method,
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              ...(body ? { body: JSON.stringify(body) } : {}),
            });
            expect([path, r.status, r.headers.get("content-type")]).toEqual([
              path,
              503,
              "application/problem+json",
            ]);
            expect(await r.json()).toEqual({
              type: "https://medusa-link.dev/problems/storage-unavailable",
              title: "Storage unavailable",
              status: 503,
              detail: "try again later",
            });
          }
          const errors = logged.filter((e) => e.level === "error");
          expect(errors).toHaveLength(requests.length);
          for (const e of errors) {
            expect(e.error).toMatch(/Unavailable$/);
            expect(String(e.reason).length).toBeGreaterThan(0);
            expect(e.request_id).toEqual(expect.any(String));
          }
        } finally {
          await broken.close();
        }
      });
    });
  });
