import {
  type AttributeValue,
  CreateTableCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from "@aws-sdk/client-dynamodb";
import { makeDynamoStores, type TableNames } from "@medusa/adapters";
import { testTables } from "@medusa/adapters/testing";
import { type DeviceId, eventsOf, type PatientId } from "@medusa/domain";
import { Effect } from "effect";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { main } from "./cli.js";

type LoggedEvent = ReturnType<typeof eventsOf>[number];
/** An imported event: an assignment or its end, never a correction. */
const assignmentOrEnd = (e: LoggedEvent) => {
  if (e._tag !== "DeviceAssigned" && e._tag !== "AssignmentEnded")
    throw new Error(`the import wrote a ${e._tag}`);
  return e;
};

// `medusa-import` on DynamoDB Local: a fixture copy of the older system's tables holding
// each kind of inconsistency, imported into fresh MeDUSA Link tables.

let client: DynamoDBClient;
let tables: TableNames;
let drop: () => Promise<void>;
let endpoint: string;
const mapping = `legacy-${Date.now()}-device-patient-mapping`;
const sensor = `legacy-${Date.now()}-sensor-data`;
const NOW = Date.now();
const S = Math.floor(NOW / 1000) - 10 * 86_400; // ten days ago, epoch seconds
const OLD = S - 30 * 86_400; // forty days ago: before the default 30-day retention

const row = (device: string, start: number, fields: Record<string, unknown> = {}) => ({
  device_id: device,
  assignment_timestamp: start,
  patient_id: "P-1",
  patient_name: "Ada",
  assigned_by: "nurse@old-clinic.example",
  status: "completed",
  assignment_end: start + 3_600,
  ...fields,
});
const ROWS = [
  row("clean", S, { notes: "left wrist" }),
  row("clean", S + 7_200, { status: "active", assignment_end: undefined, patient_id: "P-2" }),
  row("two-active", S, { status: "active", assignment_end: undefined }),
  row("two-active", S + 600, { status: "active", assignment_end: undefined, patient_id: "P-3" }),
  row("overlap", S, { assignment_end: S + 900 }),
  row("overlap", S + 600),
  row("backwards", S, { assignment_end: S - 60 }),
  row("status", S, { status: "lost" }),
  row("no-end", S, { assignment_end: undefined }),
  row("no-end", S + 1_000, { status: "device_returned", patient_id: "P-4" }),
];
/** The older sensor table's items: one reading each, times in seconds, as its IoT rule wrote them. */
const reading = (device: string, t: number, k: number) => ({
  device_id: device,
  timestamp: t,
  accel_x: k * 0.0039,
  accel_y: -0.0195,
  accel_z: 0.996,
  magnitude: Math.hypot(k * 0.0039, -0.0195, 0.996),
  temperature: 24.5,
  sequence: k,
  ttl: t + 30 * 86_400,
});
const READINGS = [
  ...Array.from({ length: 10 }, (_, k) => reading("clean", S + 10 + k, k)), // P-1
  ...Array.from({ length: 5 }, (_, k) => reading("clean", S + 4_000 + k, 100 + k)), // nobody
  ...Array.from({ length: 3 }, (_, k) => reading("clean", S + 7_300 + k, 200 + k)), // P-2
  { device_id: "clean", timestamp: S + 50, sequence: 9 }, // no axes: refused
  reading("clean", OLD, 900), // older than the retention: refused unless it is raised
  reading("clean", OLD + 1, 901),
];

/** An item of strings and numbers as DynamoDB's attribute values (absent fields left out). */
const marshall = (item: Record<string, unknown>): Record<string, AttributeValue> =>
  Object.fromEntries(
    Object.entries(item)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, typeof v === "number" ? { N: String(v) } : { S: String(v) }]),
  );

const env = () => ({
  AWS_REGION: "local",
  AWS_ACCESS_KEY_ID: "local",
  AWS_SECRET_ACCESS_KEY: "local",
  MEDUSA_EVENTS_TABLE: tables.events,
  MEDUSA_MAPPING_TABLE: tables.mapping,
  MEDUSA_SENSOR_TABLE: tables.sensor,
  MEDUSA_DEAD_LETTER_TABLE: tables.deadLetters,
  MEDUSA_IDEMPOTENCY_TABLE: tables.idempotency,
});
const run = async (args: ReadonlyArray<string>, files: Record<string, string> = {}) => {
  let stdout = "";
  let stderr = "";
  const code = await main(
    ["--endpoint", endpoint, "--table", mapping, "--sensor-table", sensor, ...args],
    {
      stdout: (s) => {
        stdout += s;
      },
      stderr: (s) => {
        stderr += s;
      },
      env: { ...process.env, ...env() },
      now: () => NOW,
      readFile: (p) => files[p] ?? "",
    },
  );
  return { code, stdout, stderr };
};
const counts = (stdout: string) =>
  JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, number>;

beforeAll(async () => {
  endpoint = inject("dynamoEndpoint");
  ({ client, tables, drop } = await testTables(endpoint));
  // The older tables' keys: (device_id, assignment_timestamp) and (device_id, timestamp).
  for (const [TableName, sort] of [
    [mapping, "assignment_timestamp"],
    [sensor, "timestamp"],
  ] as const)
    await client.send(
      new CreateTableCommand({
        TableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [
          { AttributeName: "device_id", AttributeType: "S" },
          { AttributeName: sort, AttributeType: "N" },
        ],
        KeySchema: [
          { AttributeName: "device_id", KeyType: "HASH" },
          { AttributeName: sort, KeyType: "RANGE" },
        ],
      }),
    );
  for (const [TableName, items] of [
    [mapping, ROWS],
    [sensor, READINGS],
  ] as const)
    for (const item of items)
      await client.send(new PutItemCommand({ TableName, Item: marshall(item) }));
}, 120_000);
afterAll(() => drop());

const stores = () => makeDynamoStores({ client, tables });
const commitsOf = async (device: string) =>
  (await Effect.runPromise(stores().events.load(device as DeviceId))).commits;
const timeline = async (patient: string) =>
  (
    await Effect.runPromise(
      stores().sensors.patientTimeline(
        patient as PatientId,
        { start: (S - 60) * 1000, end: (S + 86_400) * 1000 },
        { limit: 1_000 },
      ),
    )
  ).samples;

describe("medusa-import on DynamoDB Local", () => {
  it("--dry-run prints the plan and every refused row with its reasons, and writes nothing", async () => {
    const r = await run(["--dry-run"]);
    expect([r.code, r.stderr.split("\n").filter((l) => !l.startsWith("reading "))]).toEqual([
      2,
      [""],
    ]);
    expect(r.stdout).toContain("Dry run: nothing was written.");
    expect(r.stdout).toContain(
      `${new Date(S * 1000).toISOString()}  assign to P-1  [row clean@${S}]`,
    );
    for (const reason of [
      `two-active@${S}\n    several-active:`,
      `two-active@${S + 600}\n    device-refused:`,
      `overlap@${S}\n    overlap:`,
      `backwards@${S}\n    end-before-start:`,
      `status@${S}\n    unknown-status:`,
      `no-end@${S}\n    ended-without-end:`,
    ])
      expect(r.stdout).toContain(reason);
    expect(r.stdout).toMatch(/rows read\s+10\n/);
    expect(r.stdout).toMatch(/commits to write\s+3\n/);
    expect(r.stdout).toMatch(/rows refused\s+8\n/);
    expect(r.stdout).toMatch(/sensor rows read\s+21\n/);
    expect(r.stdout).toMatch(/sensor rows to refuse\s+3\n/);
    expect(r.stdout).toContain(
      `Sensor row to refuse: clean@${OLD}: taken ${new Date(OLD * 1000).toISOString()}, before the retention of 30 days`,
    );
    expect(r.stderr).toContain(`reading ${mapping}: 10 rows`);
    expect(await commitsOf("clean")).toEqual([]);
    expect(await timeline("P-1")).toEqual([]);
  });

  it("imports what is consistent: commits by the import actor with the row as provenance, readings packed and attributed by event time; refused rows counted", async () => {
    const r = await run(["--json"]);
    expect(r.code).toBe(2);
    expect(counts(r.stdout)).toEqual({
      rows_read: 10,
      commits_written: 3,
      commits_already_imported: 0,
      commits_to_write: 0,
      rows_skipped: 0,
      rows_refused: 8,
      sensor_rows_read: 21,
      samples_imported: 18,
      samples_attributed: 13,
      sensor_items_written: 3,
      sensor_rows_refused: 3,
    });
    expect(r.stderr).toContain("[########################] 1/1 devices");
    const events = eventsOf(await commitsOf("clean")).map(assignmentOrEnd);
    expect(
      events.map((e) => [
        e._tag,
        e.at,
        e._tag === "DeviceAssigned" ? e.assignedBy : e.endedBy,
        e.provenance?.row,
      ]),
    ).toEqual([
      ["DeviceAssigned", S * 1000, "import@medusa-link", `clean@${S}`],
      ["AssignmentEnded", (S + 3_600) * 1000, "import@medusa-link", `clean@${S}`],
      ["DeviceAssigned", (S + 7_200) * 1000, "import@medusa-link", `clean@${S + 7_200}`],
    ]);
    expect(JSON.parse(events[0]?.provenance?.item ?? "")).toEqual(ROWS[0]);
    // The read model the API and the old tools query has the assignments, in milliseconds.
    const intervals = await Effect.runPromise(
      stores().readModel.deviceIntervals("clean" as DeviceId),
    );
    expect(intervals.map((i) => [i.patientId, i.start, i.end, i.notes])).toEqual([
      ["P-1", S * 1000, (S + 3_600) * 1000, "left wrist"],
      ["P-2", (S + 7_200) * 1000, null, undefined],
    ]);
    expect((await timeline("P-1")).map((s) => [s.timestamp, s.sequence, s.x])).toEqual(
      Array.from({ length: 10 }, (_, k) => [(S + 10 + k) * 1000, k, k * 0.0039]),
    );
    expect((await timeline("P-2")).map((s) => s.sequence)).toEqual([200, 201, 202]);
    expect(await commitsOf("two-active")).toEqual([]);
  });

  it("running it again writes nothing", async () => {
    const r = await run(["--json"]);
    expect(counts(r.stdout)).toMatchObject({
      commits_written: 0,
      commits_already_imported: 3,
      samples_imported: 18,
      sensor_items_written: 0,
    });
    expect(await commitsOf("clean")).toHaveLength(3);
    expect(await timeline("P-1")).toHaveLength(10);
  });

  it("the operator chooses: --resolve rules and a corrections file import the rest, saying so on the events; what stays inconsistent stays refused", async () => {
    const corrections = JSON.stringify([
      {
        device_id: "backwards",
        assignment_timestamp: S,
        set: { assignment_end: S + 60 },
        reason: "end typed as minus one minute",
      },
      { device_id: "status", assignment_timestamp: S, skip: true },
    ]);
    const r = await run(
      [
        "--resolve",
        "several-active=end-at-next",
        "--resolve",
        "ended-without-end=end-at-next",
        "--corrections",
        "fix.json",
      ],
      { "fix.json": corrections },
    );
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/commits written\s+9\n/);
    expect(r.stdout).toMatch(/commits already imported\s+3\n/);
    expect(r.stdout).toMatch(/rows skipped \(corrections\)\s+1\n/);
    expect(r.stdout).toMatch(/rows refused\s+2\n/);
    expect(r.stdout).toContain(`overlap@${S}\n    overlap:`);
    const twoActive = eventsOf(await commitsOf("two-active")).map(assignmentOrEnd);
    expect(twoActive.map((e) => [e._tag, e.at / 1000, e.provenance?.resolutions])).toEqual([
      ["DeviceAssigned", S, ["several-active=end-at-next"]],
      ["AssignmentEnded", S + 600, ["several-active=end-at-next"]],
      ["DeviceAssigned", S + 600, undefined],
    ]);
    const backwards = eventsOf(await commitsOf("backwards")).map(assignmentOrEnd);
    expect(backwards.map((e) => e.at / 1000)).toEqual([S, S + 60]);
    expect(JSON.parse(backwards[1]?.provenance?.correction ?? "{}")).toMatchObject({
      reason: "end typed as minus one minute",
    });
    expect(JSON.parse(backwards[1]?.provenance?.item ?? "{}")).toMatchObject({
      assignment_end: S - 60,
    });
    expect(await commitsOf("status")).toEqual([]);
    const bad = await run(["--resolve", "overlap=guess"]);
    expect([bad.code, bad.stderr.split("\n")[0]]).toEqual([
      1,
      "--resolve overlap=guess: for overlap the rule is end-at-next",
    ]);
  });

  it("readings older than the retention are refused, not written to expire on arrival; a longer retention imports them with an expiry ahead", async () => {
    const r = await run(["--json", "--retention-days", "60"]);
    expect(counts(r.stdout)).toMatchObject({
      samples_imported: 20,
      sensor_items_written: 1,
      sensor_rows_refused: 1,
    });
    const items = await client.send(new ScanCommand({ TableName: tables.sensor }));
    const expiries = (items.Items ?? []).map((i) => Number(i.ttl?.N));
    expect(expiries.length).toBeGreaterThan(0);
    expect(Math.min(...expiries)).toBeGreaterThan(NOW / 1000);
  });
});
