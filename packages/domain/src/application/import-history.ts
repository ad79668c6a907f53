import { Array as Arr, Effect, Either } from "effect";
import type { AssignmentRejection, VersionConflict } from "../errors.js";
import type { DeviceId } from "../ids.js";
import type { DevicePlan, ImportPlan, ImportStep } from "../import/plan.js";
import { EventStore, type EventStoreUnavailable } from "../ports/event-store.js";
import { executeCommand } from "./execute-command.js";

/** What importing one device's history did. */
export type DeviceImport =
  | {
      readonly _tag: "Imported";
      readonly deviceId: DeviceId;
      /** Commits appended now. */
      readonly written: number;
      /** Commands already in the stream (an earlier run): nothing appended. */
      readonly alreadyImported: number;
    }
  | {
      readonly _tag: "Rejected";
      readonly deviceId: DeviceId;
      readonly written: number;
      readonly alreadyImported: number;
      /** The row whose command the device's stream refused, and why. */
      readonly row: string;
      readonly error: AssignmentRejection | VersionConflict;
    };

/**
 * Runs a plan's commands, one device after another, each as any command runs
 * (`executeCommand`: decided on the stream, appended with optimistic
 * concurrency), with the row each event came from as its provenance. A
 * command whose id is already in the stream is a no-op, so running the same
 * import again writes nothing. A device whose stream refuses a command (it
 * already has newer events than the history) stops there, with the reason.
 */
export const importHistory = (
  plan: ImportPlan,
  options: { readonly onDevice?: (result: DeviceImport, done: number, of: number) => void } = {},
): Effect.Effect<ReadonlyArray<DeviceImport>, EventStoreUnavailable, EventStore> =>
  Effect.gen(function* () {
    const results: Array<DeviceImport> = [];
    for (const device of plan.devices) {
      const result = yield* importDevice(device);
      results.push(result);
      options.onDevice?.(result, results.length, plan.devices.length);
    }
    return results;
  });

const importDevice = (device: DevicePlan) =>
  Effect.gen(function* () {
    const store = yield* EventStore;
    let written = 0;
    let alreadyImported = 0;
    for (const step of device.steps) {
      const outcome = yield* Effect.either(
        executeCommand(step.command).pipe(
          Effect.provideService(EventStore, withProvenance(store, step)),
        ),
      );
      if (Either.isLeft(outcome)) {
        const error = outcome.left;
        if (error._tag === "EventStoreUnavailable") return yield* Effect.fail(error);
        return {
          _tag: "Rejected",
          deviceId: device.deviceId,
          written,
          alreadyImported,
          row: step.row,
          error,
        } satisfies DeviceImport as DeviceImport;
      }
      if (outcome.right.duplicate) alreadyImported++;
      else written++;
    }
    return {
      _tag: "Imported",
      deviceId: device.deviceId,
      written,
      alreadyImported,
    } satisfies DeviceImport as DeviceImport;
  });

/** The store, with the step's provenance on the events of the step's commit. */
const withProvenance = (store: EventStore["Type"], step: ImportStep): EventStore["Type"] => ({
  load: store.load,
  append: (commit) =>
    store.append(
      commit.commandId === step.command.commandId
        ? {
            ...commit,
            events: Arr.map(commit.events, (e) => ({ ...e, provenance: step.provenance })),
          }
        : commit,
    ),
});
