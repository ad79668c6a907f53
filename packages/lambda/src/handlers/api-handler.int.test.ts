import { testTables } from "@medusa/adapters/testing";
import { signToken, TEST_SECRET } from "@medusa/api/testing";
import { afterAll, beforeAll, expect, inject, it } from "vitest";

type Handler = (
  event: unknown,
  context: unknown,
) => Promise<{
  statusCode: number;
  headers: Record<string, string>;
  body: string;
  isBase64Encoded?: boolean;
}>;
let handler: Handler;
let drop: () => Promise<void>;

beforeAll(async () => {
  const t = await testTables(inject("dynamoEndpoint"));
  drop = t.drop;
  Object.assign(process.env, {
    AWS_REGION: "local",
    AWS_ACCESS_KEY_ID: "local",
    AWS_SECRET_ACCESS_KEY: "local",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamoEndpoint"),
    MEDUSA_EVENTS_TABLE: t.tables.events,
    MEDUSA_MAPPING_TABLE: t.tables.mapping,
    MEDUSA_SENSOR_TABLE: t.tables.sensor,
    MEDUSA_DEAD_LETTER_TABLE: t.tables.deadLetters,
    MEDUSA_JWT_SECRET: TEST_SECRET,
  });
  ({ handler } = (await import("../api-handler.js")) as unknown as { handler: Handler });
});
afterAll(() => drop());

/** An API Gateway HTTP API (payload format 2.0) event, as recorded from a function URL / HTTP API. */
const event = (
  method: string,
  path: string,
  query: string,
  token: string | null,
  body?: unknown,
  extra: Record<string, string> = {},
) => ({
  version: "2.0",
  routeKey: "$default",
  rawPath: path,
  rawQueryString: query,
  cookies: [],
  headers: {
    "content-type": "application/json",
    host: "abcdefghij.lambda-url.eu-central-1.on.aws",
    "user-agent": "curl/8.5.0",
    "x-amzn-trace-id": "Root=1-67890abc-0123456789abcdef01234567",
    "x-forwarded-for": "203.0.113.7",
    "x-forwarded-port": "443",
    "x-forwarded-proto": "https",
    ...(token ? { authorization: `Bearer ${token}` } : {}),
    ...extra,
  },
  queryStringParameters: query ? Object.fromEntries(new URLSearchParams(query)) : undefined,
  requestContext: {
    accountId: "anonymous",
    apiId: "abcdefghij",
    domainName: "abcdefghij.lambda-url.eu-central-1.on.aws",
    domainPrefix: "abcdefghij",
    http: { method, path, protocol: "HTTP/1.1", sourceIp: "203.0.113.7", userAgent: "curl/8.5.0" },
    requestId: "3c9f6d4e-1b2a-4c5d-8e7f-0a1b2c3d4e5f",
    routeKey: "$default",
    stage: "$default",
    time: "22/Nov/2026:10:00:00 +0000",
    timeEpoch: 1795341600000,
  },
  body: body === undefined ? undefined : JSON.stringify(body),
  isBase64Encoded: false,
});

it("serves the API from a function URL / HTTP API event", async () => {
  const token = await signToken({ email: "nurse@clinic.example", roles: ["clinician"] });
  const health = await handler(event("GET", "/healthz", "", null), {});
  expect(health.statusCode).toBe(200);
  const device = `lambda-pi-${Date.now()}`;
  const assigned = await handler(
    event("POST", "/api/devices/assign", "", token, {
      device_id: device,
      patient_id: "P-L",
      patient_name: "L",
    }),
    {},
  );
  expect(assigned.statusCode).toBe(201);
  expect(JSON.parse(assigned.body)).toMatchObject({
    status: "success",
    assignment: { device_id: device, assigned_by: "nurse@clinic.example" },
  });
  const lookup = await handler(event("GET", `/api/devices/${device}/patient`, "", token), {});
  expect(JSON.parse(lookup.body)).toMatchObject({ patient: { patient_id: "P-L" } });
  const unassigned = await handler(
    event("POST", "/api/devices/unassign", `device_id=${device}&patient_id=P-L`, token),
    {},
  );
  expect([unassigned.statusCode, JSON.parse(unassigned.body)]).toEqual([
    200,
    { status: "device unassigned" },
  ]);
  const denied = await handler(event("GET", `/api/devices/${device}/patient`, "", null), {});
  expect(denied.statusCode).toBe(401);
  expect(denied.headers["content-type"]).toBe("application/problem+json");
});

it("every route, and the error paths that depend on the entry point, through function URL events", async () => {
  const clinician = await signToken({ email: "nurse@clinic.example", roles: ["clinician"] });
  const viewer = await signToken({ email: "viewer@clinic.example", roles: ["viewer"] });
  const device = `lambda-all-${Date.now()}`;
  const send = async (
    method: string,
    path: string,
    query = "",
    token: string | null = clinician,
    body?: unknown,
    patch: Record<string, unknown> = {},
  ) => {
    const r = await handler({ ...event(method, path, query, token, body), ...patch }, {});
    return { status: r.statusCode, headers: r.headers, body: JSON.parse(r.body) };
  };
  const t0 = Date.now() - 3_600_000;
  expect(
    (
      await send("POST", "/api/devices/assign", "", clinician, {
        device_id: device,
        patient_id: "P-A",
        patient_name: "A",
        assignment_timestamp: t0,
      })
    ).status,
  ).toBe(201);
  // A body the function URL delivered base64-encoded.
  const reassign = event("POST", "/api/devices/reassign", "", clinician);
  const encoded = await handler(
    {
      ...reassign,
      body: Buffer.from(
        JSON.stringify({
          device_id: device,
          patient_id: "P-B",
          patient_name: "B",
          assignment_timestamp: t0 + 60_000,
        }),
      ).toString("base64"),
      isBase64Encoded: true,
    },
    {},
  );
  expect(encoded.statusCode).toBe(201);
  const trail = await send("GET", `/api/devices/${device}/assignments`, "", viewer);
  expect(trail.body.assignments.map((a: { patient_id: string }) => a.patient_id)).toEqual([
    "P-B",
    "P-A",
  ]);
  expect(trail.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  const history = await send("GET", "/api/patients/P-A/devices", "include=history", viewer);
  expect(history.body.devices).toEqual([
    expect.objectContaining({ device_id: device, assignment_end: t0 + 60_000 }),
  ]);
  const range = `start_time=${t0}&end_time=${t0 + 120_000}&limit=10`;
  expect((await send("GET", "/api/patients/P-B/sensor-data", range, viewer)).body).toEqual({
    patient_id: "P-B",
    data: [],
    count: 0,
    next_cursor: null,
  });
  expect(
    (
      await send("POST", "/api/patients/P-B/sensor-data", "", viewer, {
        start_time: t0,
        end_time: t0 + 120_000,
      })
    ).status,
  ).toBe(200);
  expect(
    (
      await send("POST", "/api/devices/unassign", "", clinician, {
        device_id: device,
        patient_id: "P-B",
        reason: "device_returned",
      })
    ).body,
  ).toEqual({ status: "device unassigned" });
  expect((await send("GET", `/api/devices/${device}/patient`, "", viewer)).body).toEqual({
    device_id: device,
    patient: null,
  });
  expect((await send("GET", "/openapi.json", "", null)).body.openapi).toBe("3.1.0");
  // Error paths: a viewer's command, malformed JSON, too large a body, an unknown route.
  expect(
    (await send("POST", "/api/devices/assign", "", viewer, { device_id: device })).status,
  ).toBe(403);
  const malformed = await handler(
    { ...event("POST", "/api/devices/assign", "", clinician), body: "{nope" },
    {},
  );
  expect([malformed.statusCode, malformed.headers["content-type"]]).toEqual([
    400,
    "application/problem+json",
  ]);
  const large = await send("POST", "/api/devices/assign", "", clinician, {
    device_id: device,
    notes: "x".repeat(70_000),
  });
  expect(large.status).toBe(413);
  expect((await send("GET", "/api/nothing-here", "", clinician)).status).toBe(404);
});

it("sends the sensor-data page as Arrow, base64-encoded as API Gateway wants binary, when asked for", async () => {
  const token = await signToken({ email: "viewer@clinic.example", roles: ["viewer"] });
  const answer = await handler(
    event(
      "GET",
      "/api/patients/P-L/sensor-data",
      "start_time=1700000000000&end_time=1700000060000",
      token,
      undefined,
      { accept: "application/vnd.apache.arrow.stream" },
    ),
    {},
  );
  expect(answer.statusCode).toBe(200);
  expect(answer.headers["content-type"]).toBe("application/vnd.apache.arrow.stream");
  expect(answer.isBase64Encoded).toBe(true);
  const bytes = Buffer.from(answer.body, "base64");
  // An IPC stream: messages after the continuation marker, ended by the end-of-stream marker.
  expect(bytes.subarray(0, 4).toString("hex")).toBe("ffffffff");
  expect(bytes.subarray(-8).toString("hex")).toBe("ffffffff00000000");
  expect(bytes.includes(Buffer.from("next_cursor"))).toBe(false);
  expect(bytes.includes(Buffer.from("P-L"))).toBe(true);
});
