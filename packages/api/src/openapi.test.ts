import { makeInMemoryStores } from "@medusa/adapters/testing";
import { Schema } from "effect";
import { describe, expect, it } from "vitest";
import { createApp } from "./app.js";
import { jsonSchemaOf } from "./json-schema.js";
import { openApiDocument } from "./openapi.js";
import {
  AmendBody,
  AssignBody,
  AssignmentsQuery,
  CorrectPatientBody,
  PatientDevicesQuery,
  ReassignBody,
  RetractBody,
  SensorDataBody,
  SensorDataQuery,
  SensorDataResponse,
  UnassignBody,
  UnassignQuery,
} from "./schemas.js";
import { portsOf } from "./testing/app-suite.js";
import { testAuth } from "./testing/index.js";

type Operation = {
  parameters?: Array<{ name: string; in: string; required: boolean; description?: string }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, unknown>;
};
const doc = openApiDocument() as unknown as {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
};
const op = (path: string, method: string) => doc.paths[path]?.[method] as Operation;
const body = (path: string, method = "post") =>
  op(path, method).requestBody?.content["application/json"]?.schema;
const query = (path: string, method: string) =>
  (op(path, method).parameters ?? []).filter((p) => p.in === "query");

describe("the OpenAPI 3.1 document", () => {
  it("documents exactly the routes the app serves", () => {
    const app = createApp({
      layer: portsOf(makeInMemoryStores()),
      authenticate: testAuth(),
      log: () => {},
    });
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL")
        .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const documented = new Set(
      Object.entries(doc.paths).flatMap(([path, ops]) =>
        Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
      ),
    );
    expect(doc.openapi).toBe("3.1.0");
    expect(documented).toEqual(served);
  });

  it("request bodies and query parameters are generated from the schemas the routes validate with", () => {
    expect(body("/api/devices/assign")).toEqual(jsonSchemaOf(AssignBody));
    expect(body("/api/devices/reassign")).toEqual(jsonSchemaOf(ReassignBody));
    expect(body("/api/devices/unassign")).toEqual(jsonSchemaOf(UnassignBody));
    expect(body("/api/patients/{patient_id}/sensor-data")).toEqual(jsonSchemaOf(SensorDataBody));
    const fix = "/api/devices/{device_id}/assignments/{since}";
    expect(body(`${fix}/retract`)).toEqual(jsonSchemaOf(RetractBody));
    expect(body(`${fix}/correct-patient`)).toEqual(jsonSchemaOf(CorrectPatientBody));
    expect(body(`${fix}/amend`)).toEqual(jsonSchemaOf(AmendBody));
    // A field is required unless it is an optional property signature.
    const fields = (s: { readonly fields: Readonly<Record<string, unknown>> }) =>
      Object.entries(s.fields).map(([name, f]) => [name, !Schema.isPropertySignature(f)]);
    // The old unassign route's query form: all fields there or all in the body, so none is required alone.
    expect(query("/api/devices/unassign", "post").map((p) => [p.name, p.required])).toEqual(
      fields(UnassignQuery).map(([name]) => [name, false]),
    );
    for (const [path, method, schema] of [
      ["/api/patients/{patient_id}/sensor-data", "get", SensorDataQuery],
      ["/api/patients/{patient_id}/devices", "get", PatientDevicesQuery],
      ["/api/devices/{device_id}/assignments", "get", AssignmentsQuery],
    ] as const) {
      expect(query(path, method).map((p) => [p.name, p.required])).toEqual(fields(schema));
    }
    // No reference is left dangling: every definition is inlined.
    expect(JSON.stringify(doc)).not.toContain("$ref");
  });

  it("says that times are epoch milliseconds", () => {
    const times = query("/api/patients/{patient_id}/sensor-data", "get").filter((p) =>
      p.name.endsWith("_time"),
    );
    expect(times.map((p) => p.description)).toEqual([
      "Unix epoch milliseconds (UTC)",
      "Unix epoch milliseconds (UTC)",
    ]);
    expect(JSON.stringify(body("/api/devices/assign"))).toContain("Unix epoch milliseconds");
  });

  it("names the Arrow IPC stream beside the JSON on both sensor-data routes, with X-Next-Cursor", () => {
    for (const method of ["get", "post"]) {
      const ok = op("/api/patients/{patient_id}/sensor-data", method).responses["200"] as {
        content: Record<string, { schema: unknown }>;
        headers: Record<string, unknown>;
      };
      expect([method, Object.keys(ok.content)]).toEqual([
        method,
        ["application/json", "application/vnd.apache.arrow.stream"],
      ]);
      expect(ok.content["application/json"]?.schema).toEqual(jsonSchemaOf(SensorDataResponse));
      expect(ok.headers).toHaveProperty("X-Next-Cursor");
    }
  });

  it("every operation has a success response and problem responses", () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, operation] of Object.entries(ops)) {
        const statuses = Object.keys(operation.responses);
        expect([path, method, statuses.some((s) => s.startsWith("2"))]).toEqual([
          path,
          method,
          true,
        ]);
        if (path.startsWith("/api/")) expect(statuses).toContain("401");
      }
    }
  });
});
