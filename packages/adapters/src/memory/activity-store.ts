import type { ActivityBlock, ActivityStoreService, DeviceId, PatientId } from "@medusa/domain";
import { Effect } from "effect";

export interface InMemoryActivityStore extends ActivityStoreService {
  /** Every stored block, by device, start and patient (for tests). */
  readonly all: () => ReadonlyArray<ActivityBlock>;
}

const inOrder = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The activity store's in-memory twin: one block per device, start and
 * patient; a device's blocks by start then patient, a patient's by start then
 * device, as DynamoDB's key and index order them.
 */
export const makeInMemoryActivityStore = (): InMemoryActivityStore => {
  const blocks = new Map<string, ActivityBlock>();
  const keyOf = (deviceId: DeviceId, start: number, patientId: PatientId) =>
    `${deviceId}\u0000${start}\u0000${patientId}`;
  const all = () =>
    [...blocks.values()].sort(
      (a, b) =>
        inOrder(a.deviceId, b.deviceId) || a.start - b.start || inOrder(a.patientId, b.patientId),
    );
  return {
    all,
    deviceBlocks: (deviceId, range) =>
      Effect.sync(() =>
        all().filter(
          (b) => b.deviceId === deviceId && b.start >= range.start && b.start < range.end,
        ),
      ),
    apply: (deviceId, put, remove) =>
      Effect.sync(() => {
        for (const b of put) blocks.set(keyOf(deviceId, b.start, b.patientId), b);
        for (const k of remove) blocks.delete(keyOf(deviceId, k.start, k.patientId));
      }),
    patientBlocks: (patientId, range) =>
      Effect.sync(() =>
        [...blocks.values()]
          .filter((b) => b.patientId === patientId && b.start >= range.start && b.start < range.end)
          .sort((a, b) => a.start - b.start || inOrder(a.deviceId, b.deviceId)),
      ),
  };
};
