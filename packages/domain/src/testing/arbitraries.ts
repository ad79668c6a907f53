import { Arbitrary, FastCheck as fc } from "effect";
import type { AssignmentCommand } from "../commands.js";
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
  readonly kind: "assign" | "end" | "reassign" | "return";
  readonly device: number;
  readonly patient: number;
  /** Effective time relative to the device's previous step: negative means backdated. */
  readonly dt: number;
  /** `now - at`: negative means the command claims a future time. */
  readonly lag: number;
  readonly reason: "completed" | "device_returned";
  readonly named: boolean;
  readonly actor: number;
}

export const step: fc.Arbitrary<Step> = fc.record({
  kind: fc.constantFrom("assign", "end", "reassign", "return"),
  device: fc.nat(3),
  patient: fc.nat(3),
  dt: fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 3_600_000 }) },
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
});

/** A random clinic history: pools and steps. */
export const scenario = fc.record({
  devices: devicePool,
  patients: patientPool,
  steps: fc.array(step, { maxLength: 40 }),
});

/**
 * Turns steps into commands. Each device has its own clock that moves by
 * `dt` (sometimes backwards, so that some commands are backdated before the
 * stream's last event).
 */
export const commandsFrom = (
  devices: ReadonlyArray<DeviceId>,
  patients: ReadonlyArray<PatientId>,
  steps: ReadonlyArray<Step>,
): ReadonlyArray<AssignmentCommand> => {
  const clocks = new Map<string, number>();
  return steps.map((s, i) => {
    const device = devices[s.device % devices.length] as DeviceId;
    const patient = patients[s.patient % patients.length] as PatientId;
    const previous = clocks.get(device) ?? T0;
    const at = Math.max(0, previous + s.dt);
    clocks.set(device, Math.max(previous, at));
    const common = {
      commandId: commandId(`cmd-${i}`),
      deviceId: device,
      actor: actors[s.actor % actors.length] as Actor,
      at: epochMillis(at),
      now: epochMillis(Math.max(0, at + s.lag)),
    };
    const named = s.named ? { patientName: `Patient ${patient.slice(0, 8)}` } : {};
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
  });
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
