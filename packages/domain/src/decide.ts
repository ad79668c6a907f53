import { Either } from "effect";
import type {
  AssignmentEnded,
  AssignmentEvent,
  AssignmentState,
  DeviceAssigned,
  EndReason,
} from "./assignment.js";
import {
  type AssignDevice,
  type AssignmentCommand,
  type EndAssignment,
  isCorrection,
  type OrdinaryCommand,
  type ReassignDevice,
  type ReturnDevice,
} from "./commands.js";
import { decideCorrection } from "./decide-corrections.js";
import {
  AssignmentBelongsToAnotherPatient,
  type AssignmentRejection,
  DeviceAlreadyAssigned,
  EmptyAssignmentInterval,
  EventTimeBeforeLastEvent,
  EventTimeInFuture,
  NoActiveAssignment,
} from "./errors.js";

export interface DecisionPolicy {
  /** How far a command's effective time may lie ahead of `now` (clock skew between clients). */
  readonly maxFutureSkewMs: number;
}

export const defaultPolicy: DecisionPolicy = { maxFutureSkewMs: 60_000 };

/** The events of one accepted command (at least one), or why it is rejected. */
export type Decision = Either.Either<
  readonly [AssignmentEvent, ...Array<AssignmentEvent>],
  AssignmentRejection
>;

/** The whole write model: which events a command produces in a state, or why it is rejected. */
export const decide = (
  command: AssignmentCommand,
  state: AssignmentState,
  policy: DecisionPolicy = defaultPolicy,
): Decision => {
  if (isCorrection(command)) return decideCorrection(command, state, policy);
  const timing = checkTime(command, state, policy);
  if (timing) return Either.left(timing);
  switch (command._tag) {
    case "AssignDevice":
      return assign(command, state);
    case "EndAssignment":
      return end(command, state);
    case "ReassignDevice":
      return reassign(command, state);
    case "ReturnDevice":
      return returnDevice(command, state);
    default:
      return unreachable(command);
  }
};

const assign = (command: AssignDevice, state: AssignmentState): Decision =>
  state._tag === "Assigned"
    ? Either.left(new DeviceAlreadyAssigned({ deviceId: command.deviceId, current: state.current }))
    : Either.right([assigned(command)] as const);

const end = (command: EndAssignment, state: AssignmentState): Decision => {
  if (state._tag === "Unassigned") {
    return Either.left(new NoActiveAssignment({ deviceId: command.deviceId }));
  }
  if (state.current.patientId !== command.patientId) {
    return Either.left(
      new AssignmentBelongsToAnotherPatient({
        deviceId: command.deviceId,
        patientId: command.patientId,
        currentPatientId: state.current.patientId,
      }),
    );
  }
  return endingOf(command, state, command.reason).pipe(Either.map((e) => [e] as const));
};

const reassign = (command: ReassignDevice, state: AssignmentState): Decision => {
  if (state._tag === "Unassigned") {
    return Either.left(new NoActiveAssignment({ deviceId: command.deviceId }));
  }
  return endingOf(command, state, command.reason).pipe(
    Either.map((ended) => [ended, assigned(command)] as const),
  );
};

const returnDevice = (command: ReturnDevice, state: AssignmentState): Decision => {
  if (state._tag === "Unassigned") {
    return Either.left(new NoActiveAssignment({ deviceId: command.deviceId }));
  }
  return endingOf(command, state, "device_returned").pipe(Either.map((e) => [e] as const));
};

const checkTime = (
  command: OrdinaryCommand,
  state: AssignmentState,
  policy: DecisionPolicy,
): AssignmentRejection | undefined => {
  if (state.lastEventAt !== null && command.at < state.lastEventAt) {
    return new EventTimeBeforeLastEvent({
      deviceId: command.deviceId,
      at: command.at,
      lastEventAt: state.lastEventAt,
    });
  }
  if (command.at > command.now + policy.maxFutureSkewMs) {
    return new EventTimeInFuture({
      deviceId: command.deviceId,
      at: command.at,
      now: command.now,
      maxSkewMs: policy.maxFutureSkewMs,
    });
  }
  return undefined;
};

const assigned = (command: AssignDevice | ReassignDevice): DeviceAssigned => ({
  _tag: "DeviceAssigned",
  deviceId: command.deviceId,
  patientId: command.patientId,
  assignedBy: command.actor,
  at: command.at,
  ...(command.patientName !== undefined ? { patientName: command.patientName } : {}),
  ...(command.notes !== undefined ? { notes: command.notes } : {}),
});

const endingOf = (
  command: OrdinaryCommand,
  state: Extract<AssignmentState, { _tag: "Assigned" }>,
  reason: EndReason,
): Either.Either<AssignmentEnded, AssignmentRejection> =>
  command.at <= state.current.start
    ? Either.left(
        new EmptyAssignmentInterval({
          deviceId: command.deviceId,
          start: state.current.start,
          at: command.at,
        }),
      )
    : Either.right({
        _tag: "AssignmentEnded",
        deviceId: command.deviceId,
        patientId: state.current.patientId,
        start: state.current.start,
        endedBy: command.actor,
        at: command.at,
        reason,
      });

const unreachable = (command: never): never => {
  throw new Error(`unknown command ${JSON.stringify(command)}`);
};
