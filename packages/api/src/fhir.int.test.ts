import { deviceId, epochMillis, magnitudeOf, type Sample } from "@medusa/domain";
import { record, walking } from "@medusa/domain/testing";
import type * as fhir4 from "fhir/r4.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fhirIdOfDevice } from "./fhir/ids.js";
import { decodeSampledData } from "./fhir/sampled-data.js";
import { activityFiguresOf, asFhir4, fhirSchemaErrors } from "./testing/fhir-schema.js";
import { type ApiOnDynamoLocal, apiOnDynamoLocal } from "./testing/on-dynamo-local.js";

// The FHIR export through the real API: HTTP, the routes, the use cases, DynamoDB Local.
// Every resource and Bundle an answer holds is checked against HL7's R4 JSON schema.

let api: ApiOnDynamoLocal;

beforeAll(async () => {
  // Ajv compiles a resource type's schema on first use (a Bundle's is every resource's:
  // seconds of a blocked event loop). Done before the server starts, so that no test
  // stalls the loop while a kept-alive connection times out under the client.
  for (const type of ["Bundle", "CapabilityStatement", "Device", "OperationOutcome"])
    fhirSchemaErrors({ resourceType: type });
  api = await apiOnDynamoLocal();
});
afterAll(() => api.close());

const get = async (pathOrUrl: string, token: string | null = api.viewer) => {
  const r = await fetch(pathOrUrl.startsWith("http") ? pathOrUrl : `${api.base}${pathOrUrl}`, {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return {
    status: r.status,
    type: r.headers.get("content-type"),
    body: (await r.json()) as unknown,
  };
};
const command = async (path: string, body: Record<string, unknown>) => {
  const r = await fetch(`${api.base}/api/devices/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${api.clinician}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect([path, r.status, await r.text()]).toEqual([
    path,
    path === "unassign" ? 200 : 201,
    expect.any(String),
  ]);
};

const samples = (
  from: number,
  count: number,
  seq0: number,
  value: (i: number) => readonly [number, number, number],
  step = 100,
): Array<Sample> =>
  Array.from({ length: count }, (_, i) => {
    const [x, y, z] = value(seq0 + i);
    return {
      timestamp: epochMillis(from + i * step),
      sequence: seq0 + i,
      x,
      y,
      z,
      magnitude: magnitudeOf(x, y, z),
    };
  });

/** Every page of a search, following `next` links; each page a valid searchset Bundle. */
const allPages = async (first: string, token = api.viewer) => {
  const pages: Array<fhir4.Bundle> = [];
  let url: string | undefined = first;
  while (url !== undefined) {
    const r = await get(url, token);
    expect([url, r.status, r.type]).toEqual([url, 200, "application/fhir+json"]);
    const bundle = asFhir4<fhir4.Bundle>(r.body, "Bundle");
    expect(bundle.type).toBe("searchset");
    pages.push(bundle);
    url = bundle.link?.find((l) => l.relation === "next")?.url;
    expect(pages.length).toBeLessThan(200);
  }
  return pages;
};
const resourcesOf = <T extends fhir4.FhirResource>(pages: ReadonlyArray<fhir4.Bundle>) =>
  pages.flatMap((p) => (p.entry ?? []).map((e) => e.resource as T));

// One story, two patients: a device worn by A, handed to B, then returned; a second device
// (its id with `_` and `:`) worn by A alongside, still on. Samples of both, with a gap and a
// changed rate, some ADXL345 counts and some arbitrary doubles.
const run = Date.now();
const T = Date.UTC(2026, 10, 20, 8, 0, 0);
const wrist = `fhir-pi-${run}`;
const ankle = `fhir_pi:${run}`;
const A = `P-A-${run}`;
// C walks with a third device, two hours later, its activity kept.
const belt = `fhir-act-${run}`;
const C = `P-C-${run}`;
const WALK = T + 2 * 3_600_000 + 30_000;
const B = `P-B-${run}`;
const counts = (n: number) => [(n % 41) * 0.0039, -(n % 7) * 0.0039, 256 * 0.0039] as const;
const doubles = (n: number) => [n / 3, Math.PI * n, 1 / (n + 7)] as const;

beforeAll(async () => {
  await command("assign", {
    device_id: wrist,
    patient_id: A,
    patient_name: "A",
    assignment_timestamp: T,
    notes: "left wrist",
  });
  await command("assign", { device_id: ankle, patient_id: A, assignment_timestamp: T + 1_000 });
  await command("reassign", {
    device_id: wrist,
    patient_id: B,
    patient_name: "B",
    assignment_timestamp: T + 120_000,
  });
  await command("unassign", {
    device_id: wrist,
    patient_id: B,
    reason: "device_returned",
    assignment_end: T + 240_000,
  });
  // wrist on A: 30 s at 10 Hz of counts, a 5 s gap, 20 s of doubles.
  await api.deliver(wrist, samples(T, 300, 0, counts));
  await api.deliver(wrist, samples(T + 35_000, 200, 300, doubles));
  // ankle on A: 60 s at 10 Hz, then 20 s at 5 Hz.
  await api.deliver(ankle, samples(T + 1_000, 600, 0, counts));
  await api.deliver(ankle, samples(T + 61_000, 100, 600, counts, 200));
  // wrist on B: 10 s, counts; and 10 s after the return, which nobody wore.
  await api.deliver(wrist, samples(T + 120_000, 100, 1_000, counts));
  await api.deliver(wrist, samples(T + 250_000, 100, 2_000, counts));
  // C: six minutes of walking from half a minute past the hour (a first epoch half covered).
  await command("assign", { device_id: belt, patient_id: C, assignment_timestamp: WALK - 60_000 });
  const walk = record(
    { start: WALK, durationMs: 6 * 60_000 },
    walking({ cadence: 100, amplitude: 0.4, seed: 3 }).motion,
  );
  for (let i = 0; i < walk.length; i += 1_200)
    await api.deliver(belt, walk.slice(i, i + 1_200), { activity: true });
}, 120_000);

describe("FHIR R4 over HTTP on DynamoDB Local", () => {
  it("metadata: a CapabilityStatement, without a token", async () => {
    const r = await get("/fhir/R4/metadata", null);
    expect([r.status, r.type]).toEqual([200, "application/fhir+json"]);
    const cs = asFhir4<fhir4.CapabilityStatement>(r.body, "CapabilityStatement");
    expect(cs.fhirVersion).toBe("4.0.1");
    expect(cs.implementation?.url).toBe(`${api.base}/fhir/R4`);
    expect(cs.rest?.[0]?.resource?.map((x) => x.type)).toEqual([
      "Device",
      "DeviceUseStatement",
      "Observation",
    ]);
  });

  it("roles: no token 401, a token without a role 403, viewer and clinician 200; each refusal an OperationOutcome", async () => {
    const path = `/fhir/R4/DeviceUseStatement?patient=${A}`;
    const none = await get(path, null);
    expect([none.status, none.type]).toEqual([401, "application/fhir+json"]);
    expect(asFhir4<fhir4.OperationOutcome>(none.body, "OperationOutcome").issue[0]?.code).toBe(
      "login",
    );
    const bad = await get(path, "not-a-token");
    expect(bad.status).toBe(401);
    asFhir4<fhir4.OperationOutcome>(bad.body, "OperationOutcome");
    const forbidden = await get(path, api.nobody);
    expect(forbidden.status).toBe(403);
    expect(asFhir4<fhir4.OperationOutcome>(forbidden.body, "OperationOutcome").issue[0]?.code).toBe(
      "forbidden",
    );
    for (const path2 of [
      path,
      `/fhir/R4/Device/${fhirIdOfDevice(deviceId(wrist))}`,
      `/fhir/R4/Observation?patient=${A}&date=ge2026-11-20&date=lt2026-11-21`,
    ]) {
      expect((await get(path2, api.nobody)).status).toBe(403);
      expect((await get(path2, api.viewer)).status).toBe(200);
      expect((await get(path2, api.clinician)).status).toBe(200);
    }
  });

  it("Device: by its FHIR id, with the patient wearing it now; `_` and `:` in a device id are escaped", async () => {
    const worn = await get(`/fhir/R4/Device/${fhirIdOfDevice(deviceId(ankle))}`);
    expect(worn.status).toBe(200);
    const d = asFhir4<fhir4.Device>(worn.body, "Device");
    expect(d.id).toBe(`fhir.upi.c${run}`);
    expect(d.identifier?.[0]?.value).toBe(ankle);
    expect(d.patient).toEqual({ reference: `Patient/${A}` });
    const returned = asFhir4<fhir4.Device>(
      (await get(`/fhir/R4/Device/${fhirIdOfDevice(deviceId(wrist))}`)).body,
      "Device",
    );
    expect(returned.patient).toBeUndefined();
    for (const id of ["never-assigned", "bad.xid", "no_underscore"]) {
      const missing = await get(`/fhir/R4/Device/${id}`);
      expect([id, missing.status]).toEqual([id, id === "no_underscore" ? 400 : 404]);
      asFhir4<fhir4.OperationOutcome>(missing.body, "OperationOutcome");
    }
  });

  it("DeviceUseStatement: one per assignment period, paged with _count, every page valid", async () => {
    const pages = await allPages(
      `${api.base}/fhir/R4/DeviceUseStatement?patient=Patient/${A}&_count=1`,
    );
    expect(pages).toHaveLength(2);
    expect(pages.map((p) => p.total)).toEqual([2, 2]);
    const uses = resourcesOf<fhir4.DeviceUseStatement>(pages);
    expect(
      uses.map((u) => [u.device.display, u.status, u.timingPeriod, u.note?.[0]?.text]),
    ).toEqual([
      [
        wrist,
        "completed",
        { start: new Date(T).toISOString(), end: new Date(T + 120_000).toISOString() },
        "left wrist",
      ],
      [ankle, "active", { start: new Date(T + 1_000).toISOString() }, undefined],
    ]);
    expect(new Set(uses.map((u) => u.id)).size).toBe(2);
    const b = resourcesOf<fhir4.DeviceUseStatement>(
      await allPages(`${api.base}/fhir/R4/DeviceUseStatement?patient=${B}`),
    );
    expect(b.map((u) => [u.status, u.extension?.[0]?.valueCode, u.timingPeriod?.end])).toEqual([
      ["completed", "device_returned", new Date(T + 240_000).toISOString()],
    ]);
    const nobodysPages = await allPages(`${api.base}/fhir/R4/DeviceUseStatement?patient=P-none`);
    expect(nobodysPages.map((p) => [p.total, p.entry])).toEqual([[0, undefined]]);
  });

  it("Observation: every sample of the range, once, its values exact, whatever the page size", async () => {
    const range = "date=ge2026-11-20T08:00:00Z&date=lt2026-11-20T09:00:00Z";
    const expected = [
      ...samples(T, 300, 0, counts).map((s) => [wrist, s] as const),
      ...samples(T + 35_000, 200, 300, doubles).map((s) => [wrist, s] as const),
      ...samples(T + 1_000, 600, 0, counts).map((s) => [ankle, s] as const),
      ...samples(T + 61_000, 100, 600, counts, 200).map((s) => [ankle, s] as const),
    ]
      .map(([d, s]) => [d, s.timestamp, s.x || 0, s.y || 0, s.z || 0] as const)
      .sort((p, q) => p[1] - q[1] || p[0].localeCompare(q[0]));
    for (const count of [1, 2, 100]) {
      const pages = await allPages(
        `${api.base}/fhir/R4/Observation?patient=${A}&${range}&_count=${count}`,
      );
      const observations = resourcesOf<fhir4.Observation>(pages);
      // 4 runs: wrist counts, wrist doubles (after the gap), ankle at 10 Hz, ankle at 5 Hz.
      expect(observations).toHaveLength(4);
      expect(pages.length).toBe(Math.ceil(4 / count));
      const seen = observations
        .flatMap((o) => {
          const start = Date.parse(o.effectivePeriod?.start ?? "");
          const sd = o.valueSampledData;
          if (sd === undefined) throw new Error("no SampledData");
          expect(o.subject?.reference).toBe(`Patient/${A}`);
          return decodeSampledData(sd).map(
            (p) => [o.device?.display, start + p.offsetMs, p.x, p.y, p.z] as const,
          );
        })
        .sort((p, q) => p[1] - q[1] || String(p[0]).localeCompare(String(q[0])));
      expect(seen).toEqual(expected);
      const periods = observations.map((o) => [o.device?.display, o.valueSampledData?.period]);
      expect(periods).toEqual(
        expect.arrayContaining([
          [wrist, 100],
          [ankle, 200],
        ]),
      );
      const factors = observations.map((o) => o.valueSampledData?.factor);
      expect(factors.filter((f) => f === 0.0039)).toHaveLength(3);
      expect(factors.filter((f) => f === undefined)).toHaveLength(1);
    }
    // B wore the wrist device for two minutes; what nobody wore is nobody's.
    const b = resourcesOf<fhir4.Observation>(
      await allPages(
        `${api.base}/fhir/R4/Observation?patient=${B}&date=ge2026-11-20&date=lt2026-11-21`,
      ),
    );
    expect(b.map((o) => [o.effectivePeriod?.start, o.effectivePeriod?.end])).toEqual([
      [new Date(T + 120_000).toISOString(), new Date(T + 129_900).toISOString()],
    ]);
  });

  it("Observation: activity epochs, one per epoch, its components what /api/patients/{id}/activity answers, paged", async () => {
    const from = new Date(WALK - 30_000).toISOString();
    const to = new Date(WALK + 3_600_000).toISOString();
    const r = await fetch(
      `${api.base}/api/patients/${C}/activity?start_time=${WALK - 30_000}&end_time=${WALK + 3_600_000}`,
      {
        headers: { authorization: `Bearer ${api.viewer}` },
      },
    );
    expect(r.status).toBe(200);
    const activity = (await r.json()) as { epochs: Array<Record<string, unknown>> };
    // Seven epochs: the half-covered first, five whole, the last's first half.
    expect(activity.epochs).toHaveLength(7);
    const expected = activity.epochs.map((e) => ({
      time: e.time,
      epoch_ms: e.epoch_ms,
      device_id: e.device_id,
      enmo_mg: e.enmo_mg,
      mad_mg: e.mad_mg,
      coverage: e.coverage,
      wear: e.wear,
      intensity: e.intensity,
      steps: e.steps,
    }));
    expect(expected.some((e) => (e.steps as number) > 0)).toBe(true);
    expect(expected.some((e) => (e.coverage as number) < 1)).toBe(true);
    const search = `${api.base}/fhir/R4/Observation?patient=${C}&date=ge${from}&date=lt${to}`;
    for (const count of [1, 3, 100]) {
      const pages = await allPages(`${search}&code=activity-epoch&_count=${count}`);
      expect(pages.length).toBe(Math.ceil(7 / count));
      const observations = resourcesOf<fhir4.Observation>(pages);
      for (const o of observations) {
        expect(o.code.coding?.[0]?.code).toBe("activity-epoch");
        expect(o.subject).toEqual({ reference: `Patient/${C}` });
        expect(o.device).toEqual({ reference: `Device/${belt}`, display: belt });
      }
      expect(observations.map(activityFiguresOf)).toEqual(expected);
    }
    // `code=triaxial-acceleration`: the runs of samples alone, every sample of the walk.
    const runs = resourcesOf<fhir4.Observation>(
      await allPages(`${search}&code=triaxial-acceleration`),
    );
    expect(runs.every((o) => o.code.coding?.[0]?.code === "triaxial-acceleration")).toBe(true);
    expect(
      runs.reduce(
        (n, o) => n + decodeSampledData(o.valueSampledData as fhir4.SampledData).length,
        0,
      ),
    ).toBe(6 * 600);
    // Without `code`: the runs first, then the epochs; across pages too, no empty page.
    for (const count of [1, 2, 100]) {
      const pages = await allPages(`${search}&_count=${count}`);
      const both = resourcesOf<fhir4.Observation>(pages);
      expect(both.map((o) => o.code.coding?.[0]?.code)).toEqual([
        ...runs.map(() => "triaxial-acceleration"),
        ...expected.map(() => "activity-epoch"),
      ]);
      expect(both.slice(runs.length).map(activityFiguresOf)).toEqual(expected);
      expect(pages.length).toBe(Math.ceil((runs.length + 7) / count));
    }
    // A samples cursor is refused by an activity-only search.
    const [first] = await allPages(`${search}&code=triaxial-acceleration,activity-epoch&_count=1`);
    const cursor = new URL(
      first?.link?.find((l) => l.relation === "next")?.url ?? "",
    ).searchParams.get("_cursor");
    const crossed = await get(
      `${search}&code=activity-epoch&_cursor=${encodeURIComponent(cursor ?? "")}`,
    );
    expect(crossed.status).toBe(400);
    asFhir4<fhir4.OperationOutcome>(crossed.body, "OperationOutcome");
  });

  it("refusals are OperationOutcomes: a bad search 400 naming each parameter, XML 406, a cursor of another search 400", async () => {
    const bad = await get("/fhir/R4/Observation?patient=&date=ge2026-13-01&subject=x");
    expect(bad.status).toBe(400);
    const oo = asFhir4<fhir4.OperationOutcome>(bad.body, "OperationOutcome");
    expect(oo.issue.flatMap((i) => i.expression ?? [])).toEqual(["subject"]);
    const missing = asFhir4<fhir4.OperationOutcome>(
      (await get("/fhir/R4/Observation?date=ge2026")).body,
      "OperationOutcome",
    );
    expect(missing.issue.flatMap((i) => i.expression ?? [])).toEqual(["patient", "date"]);
    const xml = await get(`/fhir/R4/DeviceUseStatement?patient=${A}&_format=xml`);
    expect(xml.status).toBe(406);
    asFhir4<fhir4.OperationOutcome>(xml.body, "OperationOutcome");
    // A DeviceUseStatement cursor offered to the Observation search.
    const [first] = await allPages(`${api.base}/fhir/R4/DeviceUseStatement?patient=${A}&_count=1`);
    const next = new URL(first?.link?.find((l) => l.relation === "next")?.url ?? "");
    const cursor = next.searchParams.get("_cursor") ?? "";
    const crossed = await get(
      `/fhir/R4/Observation?patient=${A}&date=2026&_cursor=${encodeURIComponent(cursor)}`,
    );
    expect(crossed.status).toBe(400);
    asFhir4<fhir4.OperationOutcome>(crossed.body, "OperationOutcome");
    const unknown = await get("/fhir/R4/Patient/x");
    expect(unknown.status).toBe(404);
    asFhir4<fhir4.OperationOutcome>(unknown.body, "OperationOutcome");
  });
});
