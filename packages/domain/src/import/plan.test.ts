import { Effect, Either, FastCheck as fc } from "effect";
import { describe, expect, it } from "vitest";
import { importHistory } from "../application/import-history.js";
import { type AssignmentEvent, initialState, replay } from "../assignment.js";
import { decide } from "../decide.js";
import { actor, type DeviceId, epochMillis } from "../ids.js";
import { type Commit, EventStore, eventsOf } from "../ports/event-store.js";
import {
  type HistoricalRow,
  type ImportPlan,
  type PlanOptions,
  planImport,
  type RowProblemKind,
} from "./plan.js";

const S = 1_700_000_000; // 2023-11-14, in epoch seconds
const NOW = epochMillis((S + 365 * 86_400) * 1000);
const options: PlanOptions = {
  table: "device-patient-mapping",
  actor: actor("import@medusa-link"),
  now: NOW,
};
const row = (
  device: string,
  start: number,
  fields: Record<string, unknown> = {},
): HistoricalRow => ({
  device_id: device,
  assignment_timestamp: start,
  patient_id: "P-1",
  patient_name: "Ada",
  assigned_by: "nurse@old.example",
  status: "completed",
  assignment_end: start + 3_600,
  ...fields,
});
const kindsOf = (plan: ImportPlan) =>
  Object.fromEntries(plan.refused.map((r) => [r.row, r.problems.map((p) => p.kind)]));

describe("planImport: the historical rows as commands, or the reasons they cannot be", () => {
  it("a clean history: seconds become milliseconds, one assign and one end a row, by the import actor, the row kept", () => {
    const rows = [
      row("pi-1", S + 7_200, { status: "active", assignment_end: undefined, patient_id: "P-2" }),
      row("pi-1", S, { status: "device_returned", notes: "left wrist" }),
    ];
    const plan = planImport(rows, options);
    expect(plan.refused).toEqual([]);
    expect(plan.rowsRead).toBe(2);
    const [device] = plan.devices;
    expect(device?.rows).toEqual([`pi-1@${S}`, `pi-1@${S + 7_200}`]);
    expect(
      device?.steps.map((s) => [
        s.command._tag,
        s.command.at,
        s.command.patientId,
        s.command.actor,
      ]),
    ).toEqual([
      ["AssignDevice", S * 1000, "P-1", "import@medusa-link"],
      ["EndAssignment", (S + 3_600) * 1000, "P-1", "import@medusa-link"],
      ["AssignDevice", (S + 7_200) * 1000, "P-2", "import@medusa-link"],
    ]);
    expect(device?.steps[1]?.command).toMatchObject({ reason: "device_returned" });
    expect(device?.steps[0]?.command).toMatchObject({ notes: "left wrist", patientName: "Ada" });
    expect(JSON.parse(device?.steps[0]?.provenance.item ?? "")).toEqual(rows[1]);
    expect(device?.steps[0]?.provenance).toMatchObject({
      source: "import",
      table: "device-patient-mapping",
      row: `pi-1@${S}`,
    });
    expect(new Set(device?.steps.map((s) => s.command.commandId)).size).toBe(3);
  });

  it("each kind of inconsistency is reported on its row, and the device's other rows are held back with it; other devices go on", () => {
    const rows = [
      // several "active" rows for one device
      row("active-2", S, { status: "active", assignment_end: undefined }),
      row("active-2", S + 100, { status: "active", assignment_end: undefined, patient_id: "P-2" }),
      // an overlap
      row("overlap", S, { assignment_end: S + 500 }),
      row("overlap", S + 400, { patient_id: "P-2" }),
      // an end before the start
      row("backwards", S, { assignment_end: S - 10 }),
      row("backwards", S + 10_000),
      // an unknown status, and none at all
      row("status", S, { status: "lost" }),
      row("no-status", S, { status: undefined }),
      // ended without an end; active with one
      row("no-end", S, { assignment_end: undefined }),
      row("active-end", S, { status: "active" }),
      // milliseconds where seconds belong; a time after the import; no patient
      row("millis", S * 1000),
      row("future", S + 400 * 86_400),
      row("no-patient", S, { patient_id: "" }),
      { assignment_timestamp: S, patient_id: "P-1", status: "active" },
      // fine
      row("fine", S),
    ];
    const plan = planImport(rows, options);
    expect(plan.devices.map((d) => d.deviceId)).toEqual(["fine"]);
    const expected: Record<string, ReadonlyArray<RowProblemKind>> = {
      [`active-2@${S}`]: ["several-active"],
      [`active-2@${S + 100}`]: ["device-refused"],
      [`overlap@${S}`]: ["overlap"],
      [`overlap@${S + 400}`]: ["device-refused"],
      [`backwards@${S}`]: ["end-before-start"],
      [`backwards@${S + 10_000}`]: ["device-refused"],
      [`status@${S}`]: ["unknown-status"],
      [`no-status@${S}`]: ["unknown-status"],
      [`no-end@${S}`]: ["ended-without-end"],
      [`active-end@${S}`]: ["active-with-end"],
      [`millis@${S * 1000}`]: ["not-seconds", "not-seconds"],
      [`future@${S + 400 * 86_400}`]: ["in-future"],
      [`no-patient@${S}`]: ["malformed"],
      [`undefined@${S}`]: ["malformed"],
    };
    expect(kindsOf(plan)).toEqual(expected);
    for (const r of plan.refused) for (const p of r.problems) expect(p.detail).not.toBe("");
  });

  it("a rule the operator chose resolves its kind, and says so on the events; an unresolvable row stays refused", () => {
    const rows = [
      row("pi-1", S, { status: "active", assignment_end: undefined }),
      row("pi-1", S + 100, { assignment_end: S + 900 }),
      row("pi-1", S + 600, { assignment_end: undefined }),
      row("pi-1", S + 1_000, { status: "active", assignment_end: S + 2_000 }),
      row("pi-2", S, { assignment_end: undefined }), // ended, no end, no later row
    ];
    const plan = planImport(rows, {
      ...options,
      resolve: {
        "several-active": "end-at-next",
        overlap: "end-at-next",
        "ended-without-end": "end-at-next",
        "active-with-end": "keep-end",
      },
    });
    expect(kindsOf(plan)).toEqual({ [`pi-2@${S}`]: ["ended-without-end"] });
    const steps = plan.devices[0]?.steps ?? [];
    expect(steps.map((s) => [s.command._tag, s.command.at / 1000])).toEqual([
      ["AssignDevice", S],
      ["EndAssignment", S + 100],
      ["AssignDevice", S + 100],
      ["EndAssignment", S + 600],
      ["AssignDevice", S + 600],
      ["EndAssignment", S + 1_000],
      ["AssignDevice", S + 1_000],
      ["EndAssignment", S + 2_000],
    ]);
    expect(steps.map((s) => s.provenance.resolutions ?? [])).toEqual([
      ["several-active=end-at-next"],
      ["several-active=end-at-next"],
      ["overlap=end-at-next"],
      ["overlap=end-at-next"],
      ["ended-without-end=end-at-next"],
      ["ended-without-end=end-at-next"],
      ["active-with-end=keep-end"],
      ["active-with-end=keep-end"],
    ]);
  });

  it("a corrections file skips or changes rows by their key; the correction is kept with the events; one naming no row is reported", () => {
    const rows = [
      row("pi-1", S, { status: "active", assignment_end: undefined }),
      row("pi-1", S + 100, { status: "lost" }),
      row("pi-1", S + 5_000),
    ];
    const plan = planImport(rows, {
      ...options,
      corrections: [
        {
          device_id: "pi-1",
          assignment_timestamp: S,
          set: { assignment_end: S + 50, status: "completed" },
          reason: "ward book says 09:00",
        },
        { device_id: "pi-1", assignment_timestamp: S + 100, skip: true },
        { device_id: "pi-9", assignment_timestamp: S, skip: true },
      ],
    });
    expect(plan.refused).toEqual([]);
    expect(plan.skipped).toEqual([`pi-1@${S + 100}`]);
    expect(plan.unusedCorrections).toEqual([`pi-9@${S}`]);
    const first = plan.devices[0]?.steps[1];
    expect([first?.command._tag, first?.command.at]).toEqual(["EndAssignment", (S + 50) * 1000]);
    expect(JSON.parse(first?.provenance.correction ?? "{}")).toMatchObject({
      reason: "ward book says 09:00",
    });
    expect(JSON.parse(first?.provenance.item ?? "{}")).toEqual(rows[0]);
  });

  it("whatever the rows and rules: each row is planned, refused or skipped exactly once, and every planned history is one the event log accepts", () => {
    const field = <A>(a: fc.Arbitrary<A>) => fc.option(a, { nil: undefined });
    const rowArb = fc.record({
      device_id: fc.constantFrom("a", "b", "c", "bad/id"),
      assignment_timestamp: fc.integer({ min: 0, max: 40 }).map((k) => S + k * 100),
      patient_id: fc.constantFrom("P-1", "P-2", " "),
      status: field(fc.constantFrom("active", "completed", "device_returned", "odd")),
      assignment_end: field(fc.integer({ min: -2, max: 40 }).map((k) => S + k * 100)),
    });
    const rules = fc.record({
      "several-active": field(fc.constant("end-at-next" as const)),
      overlap: field(fc.constant("end-at-next" as const)),
      "ended-without-end": field(fc.constant("end-at-next" as const)),
      "active-with-end": field(fc.constant("keep-end" as const)),
    });
    fc.assert(
      fc.property(fc.array(rowArb, { maxLength: 30 }), rules, (raw, resolve) => {
        // The table's key is (device_id, assignment_timestamp): one row a key.
        const rows = [
          ...new Map(raw.map((r) => [`${r.device_id}@${r.assignment_timestamp}`, r])).values(),
        ].map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
        const defined = Object.fromEntries(
          Object.entries(resolve).filter(([, v]) => v !== undefined),
        );
        const plan = planImport(rows, { ...options, resolve: defined });
        const seen = [...plan.devices.flatMap((d) => d.rows), ...plan.refused.map((r) => r.row)];
        expect(seen.sort()).toEqual(
          rows.map((r) => `${r.device_id}@${r.assignment_timestamp}`).sort(),
        );
        for (const device of plan.devices) {
          let events: ReadonlyArray<AssignmentEvent> = [];
          for (const step of device.steps) {
            const d = decide(step.command, replay(events, initialState()));
            if (Either.isLeft(d)) throw new Error(`${step.row}: ${d.left._tag}`);
            events = [...events, ...d.right];
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});

/** A stream per device in a Map: appends only at the next version. */
const memoryStore = () => {
  const streams = new Map<DeviceId, Array<Commit>>();
  return {
    streams,
    service: {
      load: (deviceId: DeviceId) =>
        Effect.sync(() => {
          const commits = streams.get(deviceId) ?? [];
          return { deviceId, version: commits.length, commits };
        }),
      append: (commit: Commit) =>
        Effect.sync(() => {
          const commits = streams.get(commit.deviceId) ?? [];
          if (commit.version !== commits.length + 1) throw new Error("version");
          streams.set(commit.deviceId, [...commits, commit]);
        }),
    },
  };
};

describe("importHistory", () => {
  it("writes each device's history with its rows as provenance; running it again writes nothing; a device with newer events is rejected, naming the row", async () => {
    const store = memoryStore();
    const plan = planImport(
      [
        row("pi-1", S),
        row("pi-1", S + 7_200, { status: "active", assignment_end: undefined }),
        row("pi-2", S),
      ],
      options,
    );
    // pi-2 is already in use in MeDUSA Link, later than its history.
    const live = decide(
      {
        _tag: "AssignDevice",
        commandId: "live-1" as never,
        deviceId: "pi-2" as DeviceId,
        actor: actor("nurse@clinic.example"),
        patientId: "P-9" as never,
        at: epochMillis((S + 86_400) * 1000),
        now: NOW,
      },
      initialState(),
    );
    if (Either.isLeft(live)) throw new Error("live assign refused");
    store.streams.set("pi-2" as DeviceId, [
      {
        deviceId: "pi-2" as DeviceId,
        version: 1,
        commandId: "live-1" as never,
        committedAt: NOW,
        events: live.right,
      },
    ]);
    const run = () =>
      Effect.runPromise(Effect.provideService(importHistory(plan), EventStore, store.service));
    const first = await run();
    expect(first).toEqual([
      { _tag: "Imported", deviceId: "pi-1", written: 3, alreadyImported: 0 },
      expect.objectContaining({
        _tag: "Rejected",
        deviceId: "pi-2",
        written: 0,
        row: `pi-2@${S}`,
        error: expect.objectContaining({ _tag: "EventTimeBeforeLastEvent" }),
      }),
    ]);
    const events = eventsOf(store.streams.get("pi-1" as DeviceId) ?? []);
    expect(events.map((e) => [e._tag, "provenance" in e ? e.provenance?.row : undefined])).toEqual([
      ["DeviceAssigned", `pi-1@${S}`],
      ["AssignmentEnded", `pi-1@${S}`],
      ["DeviceAssigned", `pi-1@${S + 7_200}`],
    ]);
    const again = await run();
    expect(again[0]).toEqual({
      _tag: "Imported",
      deviceId: "pi-1",
      written: 0,
      alreadyImported: 3,
    });
    expect(store.streams.get("pi-1" as DeviceId)).toHaveLength(3);
  });
});
