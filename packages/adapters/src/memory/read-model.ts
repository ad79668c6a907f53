import {
  type AssignmentReadModelService,
  type DeviceId,
  eventsOf,
  intervalsOf,
  mappingRowsOf,
  type PatientId,
  patientDeviceHistory,
} from "@medusa/domain";
import { Effect } from "effect";
import type { InMemoryEventStore } from "./event-store.js";

/**
 * The mapping read model's in-memory twin, projected from the in-memory event
 * store: the same rows as the table (`mappingRowsOf`: retracted rows marked).
 */
export const makeInMemoryReadModel = (events: InMemoryEventStore): AssignmentReadModelService => {
  const histories = () => events.streams().map((s) => mappingRowsOf(eventsOf(s.commits)));
  return {
    deviceIntervals: (deviceId: DeviceId) =>
      Effect.sync(() => {
        const stream = events.streams().find((s) => s.deviceId === deviceId);
        return stream ? mappingRowsOf(eventsOf(stream.commits)) : [];
      }),
    currentAssignment: (deviceId: DeviceId) =>
      Effect.sync(() => {
        const stream = events.streams().find((s) => s.deviceId === deviceId);
        const last = stream ? intervalsOf(eventsOf(stream.commits)).at(-1) : undefined;
        return last && last.end === null ? last : null;
      }),
    patientIntervals: (patientId: PatientId) =>
      Effect.sync(() => patientDeviceHistory(histories().flat(), patientId)),
  };
};
