import type { DeviceStatusesService } from "@medusa/domain";
import { Effect } from "effect";

/**
 * A device-status store that counts the reads and the rows written that
 * reach `store` (a `saveAll` counts each of its rows): for tests of how many
 * requests a use case makes.
 */
export const countedDeviceStatuses = (store: DeviceStatusesService) => {
  const calls = { get: 0, save: 0 };
  const service: DeviceStatusesService = {
    ...store,
    get: (d) =>
      Effect.zipRight(
        Effect.sync(() => void calls.get++),
        store.get(d),
      ),
    save: (s, r) =>
      Effect.zipRight(
        Effect.sync(() => void calls.save++),
        store.save(s, r),
      ),
    saveAll: (rows) =>
      Effect.zipRight(
        Effect.sync(() => {
          calls.save += rows.length;
        }),
        store.saveAll(rows),
      ),
  };
  return { calls, service };
};
