import { Either } from "effect";
import { type AssignmentEvent, replay } from "../assignment.js";
import type { AssignmentCommand } from "../commands.js";
import { type DecisionPolicy, decide, defaultPolicy } from "../decide.js";
import type { AssignmentRejection } from "../errors.js";

type RejectionClass = abstract new (...args: never[]) => AssignmentRejection;

/**
 * Given / when / then for the decider:
 * `given([assigned]).when(assign).thenRejects(DeviceAlreadyAssigned)`.
 * Throws an `Error` describing the mismatch, so it works in any test runner.
 */
export const given = (
  history: ReadonlyArray<AssignmentEvent>,
  policy: DecisionPolicy = defaultPolicy,
) => ({
  when: (command: AssignmentCommand) => {
    const decision = decide(command, replay(history), policy);
    return {
      decision,
      // biome-ignore lint/suspicious/noThenProperty: the given/when/then vocabulary; this object is never awaited.
      then: (expected: ReadonlyArray<AssignmentEvent>): ReadonlyArray<AssignmentEvent> => {
        if (Either.isLeft(decision)) {
          throw new Error(
            `expected events, got rejection ${decision.left._tag}: ${decision.left.message}`,
          );
        }
        const got = canonical(decision.right);
        if (got !== canonical(expected)) {
          throw new Error(`expected ${canonical(expected)}\n     got ${got}`);
        }
        return decision.right;
      },
      thenRejects: <E extends RejectionClass>(error: E): InstanceType<E> => {
        if (Either.isRight(decision)) {
          throw new Error(`expected ${error.name}, got events ${JSON.stringify(decision.right)}`);
        }
        if (!(decision.left instanceof error)) {
          throw new Error(
            `expected ${error.name}, got ${decision.left._tag}: ${decision.left.message}`,
          );
        }
        return decision.left as InstanceType<E>;
      },
    };
  },
});

/** JSON with object keys sorted: events are equal whatever order their fields were written in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
