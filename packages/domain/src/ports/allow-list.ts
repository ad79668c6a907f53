import { Context, type Effect, type Option } from "effect";
import type { AllowListEntry, SerialNumber } from "../provisioning/allow-list.js";
import type { StorageUnavailable } from "./storage.js";

/**
 * The devices that may provision themselves by claim: a manufacturing list of
 * serial numbers, imported before a batch is switched on. The
 * pre-provisioning hook reads it on every RegisterThing.
 */
export class AllowList extends Context.Tag("@medusa/AllowList")<
  AllowList,
  {
    readonly find: (
      serialNumber: SerialNumber,
    ) => Effect.Effect<Option.Option<AllowListEntry>, StorageUnavailable>;
    /**
     * Adds the entries whose serial number is not listed yet; an entry already
     * listed is left as it is (importing a list twice changes nothing).
     */
    readonly add: (entries: ReadonlyArray<AllowListEntry>) => Effect.Effect<
      {
        readonly added: ReadonlyArray<SerialNumber>;
        readonly existing: ReadonlyArray<SerialNumber>;
      },
      StorageUnavailable
    >;
    /** Takes a serial number off the list (a device lost or returned); none listed is fine. */
    readonly remove: (serialNumber: SerialNumber) => Effect.Effect<void, StorageUnavailable>;
    /** Every entry, by serial number. */
    readonly list: () => Effect.Effect<ReadonlyArray<AllowListEntry>, StorageUnavailable>;
  }
>() {}

export type AllowListService = Context.Tag.Service<AllowList>;
