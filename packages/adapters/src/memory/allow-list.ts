import type { AllowListEntry, AllowListService, SerialNumber } from "@medusa/domain";
import { Effect, Option } from "effect";

/** The allow-list's in-memory twin: the same answers, kept in a map. */
export const makeInMemoryAllowList = (): AllowListService => {
  const entries = new Map<SerialNumber, AllowListEntry>();
  return {
    find: (serialNumber) => Effect.sync(() => Option.fromNullable(entries.get(serialNumber))),
    add: (batch) =>
      Effect.sync(() => {
        const added: Array<SerialNumber> = [];
        const existing: Array<SerialNumber> = [];
        for (const entry of batch) {
          if (entries.has(entry.serialNumber)) existing.push(entry.serialNumber);
          else {
            entries.set(entry.serialNumber, entry);
            added.push(entry.serialNumber);
          }
        }
        return { added, existing };
      }),
    remove: (serialNumber) =>
      Effect.sync(() => {
        entries.delete(serialNumber);
      }),
    list: () =>
      Effect.sync(() =>
        [...entries.values()].sort((a, b) =>
          a.serialNumber < b.serialNumber ? -1 : a.serialNumber > b.serialNumber ? 1 : 0,
        ),
      ),
  };
};
