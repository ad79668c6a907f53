import { intervalCacheLayer, storesLayer, systemClock } from "@medusa/adapters";
import {
  attribute,
  type Commit,
  deviceId,
  epochMillis,
  eventsOf,
  intervalsOf,
  reattribute,
  type Sample,
} from "@medusa/domain";
import { Effect, Layer } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiOnDynamoLocal, apiOnDynamoLocal } from "./testing/on-dynamo-local.js";

// Corrections of the record end to end (issue 18): the API on DynamoDB Local,
// each commit re-attributing the stored samples as the local stack does.

let api: ApiOnDynamoLocal;
/** The re-attribution passes the commits started; a test awaits them before reading timelines. */
const passes: Array<Promise<unknown>> = [];
const settled = async () => {
  await Promise.all(passes.splice(0));
};

beforeAll(async () => {
  api = await apiOnDynamoLocal({
    clinicianEmail: "charge.nurse@clinic.example",
    // As the events table's stream does in AWS: every commit re-attributes what it changed.
    onCommit: (stores) => {
      const ports = Layer.merge(storesLayer(stores), systemClock);
      const reattribution = Layer.merge(ports, intervalCacheLayer(0).pipe(Layer.provide(ports)));
      return (commit: Commit) => {
        passes.push(Effect.runPromise(reattribute(commit).pipe(Effect.provide(reattribution))));
      };
    },
  });
});
afterAll(() => api.close());

/** Stores samples as ingest does: attributed by event time with the device's intervals from its stream. */
const deliver = async (device: string, samples: ReadonlyArray<Sample>) => {
  const id = deviceId(device);
  const stream = await Effect.runPromise(api.stores.events.load(id));
  const by = { version: stream.version, intervals: intervalsOf(eventsOf(stream.commits)) };
  await Effect.runPromise(api.stores.sensors.write(attribute(id, samples, by)));
};
const samplesAt = (from: number, count: number, seq0: number): Array<Sample> =>
  Array.from({ length: count }, (_, i) => ({
    timestamp: epochMillis(from + i * 100),
    sequence: seq0 + i,
    x: 0.01,
    y: 0.02,
    z: 0.98,
    magnitude: Math.hypot(0.01, 0.02, 0.98),
  }));
const range = (from: number, count: number) => Array.from({ length: count }, (_, i) => from + i);

/** Every sequence number on a patient's timeline, across pages. */
const timeline = async (patient: string, from: number) => {
  const seen: Array<number> = [];
  let cursor: string | null = null;
  do {
    const page: { status: number; body: Record<string, unknown> } = await api.http(
      "POST",
      `/api/patients/${patient}/sensor-data`,
      {
        start_time: from - 1,
        end_time: from + 3_600_000,
        limit: 97,
        ...(cursor ? { cursor } : {}),
      },
      api.viewer,
    );
    expect(page.status).toBe(200);
    seen.push(...(page.body.data as Array<{ sequence: number }>).map((s) => s.sequence));
    cursor = page.body.next_cursor as string | null;
  } while (cursor);
  return seen.sort((a, b) => a - b);
};

const trail = async (device: string, asOf?: number) =>
  (
    await api.http(
      "GET",
      `/api/devices/${device}/assignments${asOf !== undefined ? `?as_of=${asOf}` : ""}`,
      undefined,
      api.viewer,
    )
  ).body;

describe("corrections of the record, end to end on DynamoDB Local", () => {
  it("a wrong-patient assignment retracted: its samples go to the patient who truly wore the device", async () => {
    const device = `fix-retract-${Date.now()}`;
    const t0 = Date.now() - 1_200_000;
    const assigned = await api.http("POST", "/api/devices/assign", {
      device_id: device,
      patient_id: "P-WRONG",
      assignment_timestamp: t0,
    });
    expect(assigned.status).toBe(201);
    await deliver(device, samplesAt(t0, 150, 0));
    await settled();
    expect(await timeline("P-WRONG", t0)).toEqual(range(0, 150));
    const beforeFix = Date.now();
    await new Promise((r) => setTimeout(r, 5));

    const retracted = await api.http(
      "POST",
      `/api/devices/${device}/assignments/${t0}/retract`,
      { reason: "wrong_patient", note: "the device was on P-RIGHT's wrist" },
      api.clinician,
      { "idempotency-key": "retract-1" },
    );
    expect(retracted.status).toBe(200);
    expect(retracted.body).toEqual({
      status: "corrected",
      assignments: [
        expect.objectContaining({
          patient_id: "P-WRONG",
          assignment_timestamp: t0,
          status: "entered_in_error",
          correction: expect.objectContaining({
            corrected_by: "charge.nurse@clinic.example",
            reason: "wrong_patient",
            note: "the device was on P-RIGHT's wrist",
          }),
        }),
      ],
    });
    // Retried with the same key: the same answer, nothing appended.
    const again = await api.http(
      "POST",
      `/api/devices/${device}/assignments/${t0}/retract`,
      { reason: "wrong_patient", note: "the device was on P-RIGHT's wrist" },
      api.clinician,
      { "idempotency-key": "retract-1" },
    );
    expect([again.status, again.body]).toEqual([200, retracted.body]);
    await settled();
    // Entered in error: the samples belong to nobody until the true assignment is recorded.
    expect(await timeline("P-WRONG", t0)).toEqual([]);

    // The record no longer holds anything after t0, so the true assignment can be recorded at t0.
    const right = await api.http("POST", "/api/devices/assign", {
      device_id: device,
      patient_id: "P-RIGHT",
      assignment_timestamp: t0,
    });
    expect(right.status).toBe(201);
    await settled();
    expect(await timeline("P-RIGHT", t0)).toEqual(range(0, 150));
    expect(await timeline("P-WRONG", t0)).toEqual([]);

    // The mapping table: the right assignment took the key; the trail as of before the fix shows P-WRONG.
    expect((await trail(device)).assignments).toEqual([
      expect.objectContaining({ patient_id: "P-RIGHT", status: "active" }),
    ]);
    const then = await trail(device, beforeFix);
    expect(then.assignments).toEqual([
      expect.objectContaining({ patient_id: "P-WRONG", status: "active", corrections: [] }),
    ]);
    const now = await trail(device, Date.now());
    expect(now.assignments).toEqual([
      expect.objectContaining({ patient_id: "P-RIGHT", status: "active" }),
      expect.objectContaining({
        patient_id: "P-WRONG",
        status: "entered_in_error",
        corrections: [
          expect.objectContaining({
            kind: "retracted",
            corrected_by: "charge.nurse@clinic.example",
            reason: "wrong_patient",
            before: { patient_id: "P-WRONG", assignment_timestamp: t0, assignment_end: null },
            after: null,
          }),
        ],
      }),
    ]);
  });

  it("the wrong patient corrected: the samples move to the right one, and 'as of' answers the old belief", async () => {
    const device = `fix-patient-${Date.now()}`;
    const t0 = Date.now() - 1_200_000;
    await api.http("POST", "/api/devices/assign", {
      device_id: device,
      patient_id: "P-1",
      patient_name: "Wrong Name",
      assignment_timestamp: t0,
    });
    await deliver(device, samplesAt(t0, 120, 0));
    await settled();
    const before = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    const corrected = await api.http(
      "POST",
      `/api/devices/${device}/assignments/${t0}/correct-patient`,
      { patient_id: "P-2", reason: "wrong_patient", note: "beds 4 and 5 mixed up" },
    );
    expect(corrected.status).toBe(200);
    await settled();
    expect(await timeline("P-1", t0)).toEqual([]);
    expect(await timeline("P-2", t0)).toEqual(range(0, 120));
    // The old name goes with the old patient.
    expect((await trail(device)).assignments).toEqual([
      expect.objectContaining({ patient_id: "P-2", patient_name: null, status: "active" }),
    ]);
    expect((await trail(device, before)).assignments).toEqual([
      expect.objectContaining({ patient_id: "P-1", patient_name: "Wrong Name" }),
    ]);
    // The patient index moved with it.
    const devices = async (p: string) =>
      (await api.http("GET", `/api/patients/${p}/devices`, undefined, api.viewer)).body.devices;
    expect(await devices("P-1")).toEqual([]);
    expect(await devices("P-2")).toEqual([expect.objectContaining({ device_id: device })]);
  });

  it("assign → reassign → late samples, then the hand-over time amended: the samples between the two times move from one patient to the other", async () => {
    const device = `fix-handover-${Date.now()}`;
    const t0 = Date.now() - 1_200_000;
    await api.http("POST", "/api/devices/assign", {
      device_id: device,
      patient_id: "P-A",
      assignment_timestamp: t0,
    });
    await deliver(device, samplesAt(t0, 100, 0)); // t0 .. t0+9.9 s
    const recorded = t0 + 20_000;
    expect(
      (
        await api.http("POST", "/api/devices/reassign", {
          device_id: device,
          patient_id: "P-B",
          assignment_timestamp: recorded,
        })
      ).status,
    ).toBe(201);
    await deliver(device, samplesAt(recorded, 100, 200)); // after the hand-over
    await deliver(device, samplesAt(t0 + 10_000, 100, 100)); // late: taken before it
    await settled();
    expect(await timeline("P-A", t0)).toEqual(range(0, 200));
    expect(await timeline("P-B", t0)).toEqual(range(200, 100));
    const before = Date.now();
    await new Promise((r) => setTimeout(r, 5));

    // The device really changed hands 5 s after t0 + 10 s: B's start moves, A's end with it.
    const truly = t0 + 15_000;
    const amended = await api.http("POST", `/api/devices/${device}/assignments/${recorded}/amend`, {
      assignment_timestamp: truly,
      move_adjoining: true,
      reason: "wrong_time",
      note: "hand-over was at the start of the shift",
    });
    expect(amended.status).toBe(200);
    expect(amended.body.assignments).toEqual([
      expect.objectContaining({ patient_id: "P-B", assignment_timestamp: truly, status: "active" }),
      expect.objectContaining({
        patient_id: "P-A",
        assignment_timestamp: t0,
        assignment_end: truly,
      }),
    ]);
    await settled();
    // Samples at t0+15 s .. t0+19.9 s (sequences 150–199) are B's now.
    expect(await timeline("P-A", t0)).toEqual(range(0, 150));
    expect(await timeline("P-B", t0)).toEqual(range(150, 150));
    // And back the other way: the hand-over was later than recorded after all.
    const later = t0 + 25_000;
    const back = await api.http("POST", `/api/devices/${device}/assignments/${truly}/amend`, {
      assignment_timestamp: later,
      move_adjoining: true,
      reason: "wrong_time",
      note: "checked the ward log",
    });
    expect(back.status).toBe(200);
    await settled();
    expect(await timeline("P-A", t0)).toEqual([...range(0, 200), ...range(200, 50)]);
    expect(await timeline("P-B", t0)).toEqual(range(250, 50));
    // As of before the first amendment: the hand-over at the recorded time.
    expect((await trail(device, before)).assignments).toEqual([
      expect.objectContaining({ patient_id: "P-B", assignment_timestamp: recorded }),
      expect.objectContaining({ patient_id: "P-A", assignment_end: recorded }),
    ]);
    const now = (await trail(device, Date.now())).assignments as Array<{
      corrections: Array<unknown>;
    }>;
    expect(now.map((a) => a.corrections.length)).toEqual([2, 2]);
  });

  it("every refusal is a problem: unknown assignment, an overlap naming the conflict, an end not yet there, a correction of a retracted one, a viewer, a missing note", async () => {
    const device = `fix-refused-${Date.now()}`;
    const t0 = Date.now() - 1_200_000;
    await api.http("POST", "/api/devices/assign", {
      device_id: device,
      patient_id: "P-A",
      assignment_timestamp: t0,
    });
    await api.http("POST", "/api/devices/reassign", {
      device_id: device,
      patient_id: "P-B",
      assignment_timestamp: t0 + 60_000,
    });
    const why = { reason: "wrong_time", note: "checked" };
    const cases: Array<[string, unknown, number, string, string?]> = [
      [`${t0 + 1}/retract`, why, 404, "assignment-not-found"],
      [`${t0}/amend`, { ...why, assignment_end: t0 + 90_000 }, 409, "assignments-would-overlap"],
      [
        `${t0 + 60_000}/amend`,
        { ...why, assignment_end: t0 + 90_000 },
        409,
        "assignment-not-ended",
      ],
      [`${t0}/amend`, { ...why, assignment_end: t0 }, 422, "empty-assignment"],
      [`${t0}/correct-patient`, { ...why, patient_id: "P-A" }, 422, "correction-changes-nothing"],
      [`${t0}/retract`, { reason: "wrong_time" }, 400, "validation-error"],
      [`${t0}/retract`, { ...why, note: "   " }, 400, "validation-error"],
      [`${t0}/retract`, { ...why, reason: "bored" }, 400, "validation-error"],
      [`not-a-time/retract`, why, 400, "validation-error"],
    ];
    for (const [path, body, status, type] of cases) {
      const r = await api.http("POST", `/api/devices/${device}/assignments/${path}`, body);
      expect([path, r.status, r.body.type, r.headers.get("content-type")]).toEqual([
        path,
        status,
        `https://medusa-link.dev/problems/${type}`,
        "application/problem+json",
      ]);
    }
    const overlap = await api.http("POST", `/api/devices/${device}/assignments/${t0}/amend`, {
      ...why,
      assignment_end: t0 + 90_000,
    });
    expect(overlap.body.conflicting).toEqual({
      patient_id: "P-B",
      assignment_timestamp: t0 + 60_000,
      assignment_end: null,
    });
    expect(
      (await api.http("POST", `/api/devices/${device}/assignments/${t0}/retract`, why, api.viewer))
        .status,
    ).toBe(403);
    expect(
      (await api.http("POST", `/api/devices/${device}/assignments/${t0}/retract`, why)).status,
    ).toBe(200);
    const gone = await api.http("POST", `/api/devices/${device}/assignments/${t0}/retract`, why);
    expect([gone.status, gone.body.type]).toEqual([
      409,
      "https://medusa-link.dev/problems/assignment-retracted",
    ]);
    // The record as of a time before anything was recorded: empty. A bad as_of: a 400.
    expect((await trail(device, t0 - 3_600_000_000)).assignments).toEqual([]);
    expect(
      (
        await api.http(
          "GET",
          `/api/devices/${device}/assignments?as_of=yesterday`,
          undefined,
          api.viewer,
        )
      ).status,
    ).toBe(400);
  });
});
