import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CurrentAssignment } from "../assignment.js";
import { actor, deviceId, type EpochMillis, epochMillis, patientId } from "../ids.js";
import {
  type Alert,
  acknowledgeAlert,
  alertOf,
  checkDataGap,
  closeAlert,
  type DataGapEvent,
  DEFAULT_GAP_MS,
  type GapCheck,
  gapDueAt,
  isOpen,
} from "./data-gap.js";

const device = deviceId("medusa-pi-07");
const T = 1_731_622_400_000;
const MIN = 60_000;
const at = (n: number) => epochMillis(T + n);

const assignment = (patient: string, start: number): CurrentAssignment => ({
  deviceId: device,
  patientId: patientId(patient),
  assignedBy: actor("nurse@clinic.example"),
  start: at(start),
});

/** What a store does with the events: the open alerts after them. */
const afterEvents = (open: ReadonlyArray<Alert>, events: ReadonlyArray<DataGapEvent>) => {
  const byId = new Map(open.map((a) => [a.id, a]));
  for (const e of events) {
    if (e._tag === "DataGapOpened") {
      if (!byId.has(e.alertId)) byId.set(e.alertId, alertOf(e));
    } else {
      const held = byId.get(e.alertId);
      if (held) byId.set(e.alertId, closeAlert(held, e));
    }
  }
  return [...byId.values()].filter(isOpen);
};

const check = (over: Partial<GapCheck>): GapCheck => ({
  deviceId: device,
  assignment: assignment("P-1", 0),
  lastSampleAt: null,
  open: [],
  now: at(0),
  gapMs: DEFAULT_GAP_MS,
  ...over,
});

describe("data gaps: examples", () => {
  it("an assigned device silent for the gap time raises one alert naming device, patient and since", () => {
    expect(checkDataGap(check({ lastSampleAt: at(5 * MIN), now: at(14 * MIN) }))).toEqual([]);
    const events = checkDataGap(check({ lastSampleAt: at(5 * MIN), now: at(15 * MIN) }));
    expect(events).toEqual([
      {
        _tag: "DataGapOpened",
        alertId: `gap.${device}.${T}.${T + 5 * MIN}`,
        deviceId: device,
        patientId: "P-1",
        assignmentStart: at(0),
        since: at(5 * MIN),
        raisedAt: at(15 * MIN),
      },
    ]);
  });

  it("an assigned device that never sent anything is silent since its assignment; nobody's device never is", () => {
    expect(checkDataGap(check({ now: at(DEFAULT_GAP_MS) }))[0]).toMatchObject({ since: at(0) });
    // Samples from before the assignment (another patient's) do not count for this one.
    const a = assignment("P-1", 60 * MIN);
    expect(
      checkDataGap(check({ assignment: a, lastSampleAt: at(MIN), now: at(70 * MIN) }))[0],
    ).toMatchObject({
      since: at(60 * MIN),
    });
    expect(checkDataGap(check({ assignment: null, now: at(999 * MIN) }))).toEqual([]);
  });

  it("clears when data resumes, or when the device leaves the patient; a new gap is a new alert", () => {
    const [opened] = checkDataGap(check({ lastSampleAt: at(0), now: at(10 * MIN) }));
    const alert = alertOf(opened as Extract<DataGapEvent, { _tag: "DataGapOpened" }>);
    // Still silent: nothing.
    expect(checkDataGap(check({ lastSampleAt: at(0), open: [alert], now: at(60 * MIN) }))).toEqual(
      [],
    );
    // A sample after the gap began: closed.
    const resumed = checkDataGap(
      check({ lastSampleAt: at(61 * MIN), open: [alert], now: at(62 * MIN) }),
    );
    expect(resumed).toMatchObject([
      { _tag: "DataGapClosed", reason: "data-resumed", closedAt: at(62 * MIN) },
    ]);
    // Handed to another patient: closed, and the new assignment's own silence counts from its start.
    const handed = checkDataGap(
      check({
        assignment: assignment("P-2", 30 * MIN),
        lastSampleAt: at(0),
        open: [alert],
        now: at(45 * MIN),
      }),
    );
    expect(handed).toMatchObject([
      { _tag: "DataGapClosed", reason: "assignment-ended" },
      { _tag: "DataGapOpened", patientId: "P-2", since: at(30 * MIN) },
    ]);
    expect(
      checkDataGap(check({ assignment: null, open: [alert], now: at(11 * MIN) })),
    ).toMatchObject([{ _tag: "DataGapClosed", reason: "assignment-ended" }]);
  });

  it("acknowledging keeps the first acknowledgement; closing keeps the first close", () => {
    const [opened] = checkDataGap(check({ now: at(10 * MIN) }));
    const alert = alertOf(opened as Extract<DataGapEvent, { _tag: "DataGapOpened" }>);
    const once = acknowledgeAlert(alert, actor("a@c.example"), at(11 * MIN));
    expect(acknowledgeAlert(once, actor("b@c.example"), at(12 * MIN))).toBe(once);
    expect(once).toMatchObject({ acknowledgedBy: "a@c.example", acknowledgedAt: at(11 * MIN) });
  });

  it("the detector's next look: when the gap would open", () => {
    expect(gapDueAt(check({ lastSampleAt: at(3 * MIN) }))).toBe(T + 3 * MIN + DEFAULT_GAP_MS);
    expect(gapDueAt(check({ assignment: null }))).toBeNull();
  });
});

/** A device's life as the detector sees it: passes over time, samples, hand-overs. */
const lifetime = fc.array(
  fc.record({
    advance: fc.integer({ min: 0, max: 30 * MIN }),
    sample: fc.boolean(),
    reassign: fc.constantFrom(null, "P-1", "P-2", "nobody"),
  }),
  { minLength: 1, maxLength: 40 },
);

describe("data gaps: properties", () => {
  it("over any life: at most one open alert; open exactly while assigned and silent for the gap time; running again adds nothing", () => {
    fc.assert(
      fc.property(lifetime, fc.integer({ min: 1, max: 20 * MIN }), (steps, gapMs) => {
        let now: EpochMillis = at(0);
        let current: CurrentAssignment | null = assignment("P-1", 0);
        let lastSampleAt: EpochMillis | null = null;
        let open: ReadonlyArray<Alert> = [];
        for (const step of steps) {
          now = epochMillis(now + step.advance);
          if (step.reassign === "nobody") current = null;
          else if (step.reassign !== null) current = assignment(step.reassign, now - T);
          if (step.sample) lastSampleAt = now;
          const input = { deviceId: device, assignment: current, lastSampleAt, now, gapMs };
          const events = checkDataGap({ ...input, open });
          open = afterEvents(open, events);
          // A fixed point: the detector run again (or twice at once) finds nothing new.
          expect(checkDataGap({ ...input, open })).toEqual([]);
          expect(open.length).toBeLessThanOrEqual(1);
          const silentFor =
            current === null
              ? 0
              : now -
                (lastSampleAt !== null && lastSampleAt > current.start
                  ? lastSampleAt
                  : current.start);
          expect(open.length === 1).toBe(current !== null && silentFor >= gapMs);
          for (const a of open) {
            expect(a.patientId).toBe(current?.patientId);
            expect(a.since).toBeLessThanOrEqual(now - gapMs);
          }
        }
      }),
    );
  });
});
