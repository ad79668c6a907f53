import { Arbitrary, FastCheck as fc } from "effect";
import type { AssignmentCommand } from "../commands.js";
import { defaultPolicy } from "../decide.js";
import {
  type Actor,
  actor,
  commandId,
  DeviceId,
  deviceId,
  epochMillis,
  PatientId,
  patientId,
} from "../ids.js";
import type { Sample } from "../sample.js";
import { ReferenceModel } from "./reference-model.js";

/** A start time for generated histories: 2024-11-14T22:13:20Z. */
export const T0 = 1_731_622_400_000;

/** Small pools so that generated commands collide on devices and patients. */
export const devicePool = fc.uniqueArray(Arbitrary.make(DeviceId), { minLength: 2, maxLength: 4 });
export const patientPool = fc.uniqueArray(Arbitrary.make(PatientId), {
  minLength: 2,
  maxLength: 4,
});
export const actors: ReadonlyArray<Actor> = [
  actor("nurse@clinic.example"),
  actor("dr.who@clinic.example"),
];

/** One step of a random clinic day; turned into a command by `commandsFrom`. */
export interface Step {
  readonly kind: "assign" | "end" | "reassign" | "return" | "retract" | "correct-patient" | "amend";
  readonly device: number;
  readonly patient: number;
  /** Effective time relative to the device's previous step: negative means backdated. */
  readonly dt: number;
  /** `now - at`: negative means the command claims a future time. */
  readonly lag: number;
  readonly reason: "completed" | "device_returned";
  readonly named: boolean;
  readonly actor: number;
  /**
   * A correction's assignment: one of the device's live assignments, counted
   * from the newest (0–5); one retracted before (6); or a time no assignment
   * started at (7).
   */
  readonly target: number;
  /** An amended start, relative to the assignment's start. */
  readonly shift: number;
  /** An amended end, relative to the assignment's end (or to an hour after its start). */
  readonly stretch: number;
  readonly period: "start" | "end" | "both";
  readonly moveAdjoining: boolean;
}

const HOUR = 3_600_000;

export const step: fc.Arbitrary<Step> = fc.record({
  kind: fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom<Step["kind"]>("assign", "end", "reassign", "return") },
    { weight: 1, arbitrary: fc.constantFrom<Step["kind"]>("retract", "correct-patient", "amend") },
  ),
  device: fc.nat(3),
  patient: fc.nat(3),
  dt: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: HOUR }) },
    { weight: 2, arbitrary: fc.constant(0) },
    { weight: 2, arbitrary: fc.integer({ min: -600_000, max: -1 }) },
  ),
  lag: fc.oneof(
    { weight: 8, arbitrary: fc.integer({ min: 0, max: 86_400_000 }) },
    { weight: 2, arbitrary: fc.integer({ min: -300_000, max: -1 }) },
  ),
  reason: fc.constantFrom("completed", "device_returned"),
  named: fc.boolean(),
  actor: fc.nat(1),
  target: fc.nat(7),
  shift: fc.oneof(fc.integer({ min: -HOUR, max: HOUR }), fc.constantFrom(-1, 1, -60_000, 60_000)),
  stretch: fc.oneof(fc.integer({ min: -HOUR, max: HOUR }), fc.constantFrom(-1, 1, -60_000, 60_000)),
  period: fc.constantFrom<Step["period"]>("start", "end", "both"),
  moveAdjoining: fc.boolean(),
});

/** A random clinic history: pools and steps. */
export const scenario = fc.record({
  devices: devicePool,
  patients: patientPool,
  steps: fc.array(step, { maxLength: 40 }),
});

/**
 * Busier histories for the corrections' properties: one or two devices and
 * 20–60 steps, so that most corrections find assignments to correct (and
 * hand-overs to amend).
 */
export const clinicDays = fc.record({
  devices: fc.uniqueArray(Arbitrary.make(DeviceId), { minLength: 1, maxLength: 2 }),
  patients: patientPool,
  steps: fc.array(step, { minLength: 20, maxLength: 60 }),
});

/**
 * Turns steps into commands. Each device has its own clock that moves by
 * `dt` (sometimes backwards, so that some commands are backdated before the
 * stream's last event). A correction names one of the device's assignments
 * as the reference model has them at that point (or one retracted, or a time
 * none started at), and is recorded after every command before it on that
 * device (so a store records it at its `now`).
 */
export const commandsFrom = (
  devices: ReadonlyArray<DeviceId>,
  patients: ReadonlyArray<PatientId>,
  steps: ReadonlyArray<Step>,
): ReadonlyArray<AssignmentCommand> => {
  const clocks = new Map<string, number>();
  const latestNow = new Map<string, number>();
  // Which assignments exist, so that most corrections name one.
  const model = new ReferenceModel(defaultPolicy.maxFutureSkewMs);
  return steps.map((s, i) => {
    const command = commandOf(s, i);
    model.apply(command);
    return command;
  });
  function commandOf(s: Step, i: number): AssignmentCommand {
    const correction = s.kind === "retract" || s.kind === "correct-patient" || s.kind === "amend";
    // A correction goes to a device with a record to correct, when there is one.
    const shift = correction
      ? devices.findIndex(
          (_, k) =>
            model.device(devices[(s.device + k) % devices.length] as string).intervals.length > 0,
        )
      : 0;
    const device = devices[(s.device + Math.max(0, shift)) % devices.length] as DeviceId;
    const patient = patients[s.patient % patients.length] as PatientId;
    const previous = clocks.get(device) ?? T0;
    const named = s.named ? { patientName: `Patient ${patient.slice(0, 8)}` } : {};
    const who = { commandId: commandId(`cmd-${i}`), deviceId: device };
    const by = actors[s.actor % actors.length] as Actor;
    if (correction) {
      const { intervals, retracted } = model.device(device);
      const target =
        s.target < 6
          ? intervals[intervals.length - 1 - (s.target % Math.max(1, intervals.length))]
          : undefined;
      const start =
        target?.start ?? (s.target === 6 ? retracted.at(-1)?.start : undefined) ?? previous + 1;
      const now = Math.max(latestNow.get(device) ?? 0, previous) + Math.abs(s.lag);
      latestNow.set(device, now);
      const common = {
        ...who,
        actor: by,
        now: epochMillis(now),
        start: epochMillis(start),
        note: `generated correction ${i}`,
      };
      switch (s.kind) {
        case "retract":
          return { _tag: "RetractAssignment", ...common, reason: "not_worn" };
        case "correct-patient":
          return {
            _tag: "CorrectAssignmentPatient",
            ...common,
            reason: "wrong_patient",
            patientId: patient,
            ...named,
          };
        default: {
          const newStart = s.period === "end" ? undefined : Math.max(0, start + s.shift);
          const newEnd =
            s.period === "start"
              ? undefined
              : Math.max(0, (target?.end ?? start + HOUR) + s.stretch);
          return {
            _tag: "AmendAssignmentPeriod",
            ...common,
            reason: "wrong_time",
            ...(newStart !== undefined ? { newStart: epochMillis(newStart) } : {}),
            ...(newEnd !== undefined ? { newEnd: epochMillis(newEnd) } : {}),
            ...(s.moveAdjoining ? { moveAdjoining: true } : {}),
          };
        }
      }
    }
    const at = Math.max(0, previous + s.dt);
    clocks.set(device, Math.max(previous, at));
    const now = Math.max(0, at + s.lag);
    latestNow.set(device, Math.max(latestNow.get(device) ?? 0, now));
    const common = { ...who, actor: by, at: epochMillis(at), now: epochMillis(now) };
    switch (s.kind) {
      case "assign":
        return { _tag: "AssignDevice", ...common, patientId: patient, ...named };
      case "end":
        return { _tag: "EndAssignment", ...common, patientId: patient, reason: s.reason };
      case "reassign":
        return {
          _tag: "ReassignDevice",
          ...common,
          patientId: patient,
          reason: s.reason,
          ...named,
        };
      default:
        return { _tag: "ReturnDevice", ...common };
    }
  }
};

/** A plausible sample at time `t` (values within range; magnitude consistent). */
export const sampleAt = (t: number, sequence: number): Sample => ({
  timestamp: epochMillis(t),
  sequence,
  x: 0.01,
  y: -0.02,
  z: 0.98,
  magnitude: Math.sqrt(0.01 ** 2 + 0.02 ** 2 + 0.98 ** 2),
});

export { deviceId, patientId };
