import { randomBytes } from "node:crypto";
import {
  type AllowListEntry,
  type AllowListService,
  epochMillis,
  SerialNumber,
} from "@medusa/domain";
import { Effect, Option, Schema } from "effect";
import { describe, expect, it } from "vitest";

/** The behaviour every allow-list has (the in-memory twin and DynamoDB run the same suite). */
export const allowListContract = (name: string, store: () => AllowListService) =>
  describe(`allow-list contract: ${name}`, () => {
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect);
    /** Serial numbers of this run only: the DynamoDB table is shared by the file's tests. */
    const serials = (n: number) => {
      const tag = randomBytes(4).toString("hex");
      return Array.from({ length: n }, (_, i) =>
        Schema.decodeSync(SerialNumber)(`${tag}${String(i).padStart(4, "0")}`),
      );
    };
    const entry = (serialNumber: SerialNumber, fields: Partial<AllowListEntry> = {}) => ({
      serialNumber,
      addedAt: epochMillis(1_764_000_000_000),
      ...fields,
    });

    it("finds what was added, with every field; nothing for a serial never added", async () => {
      const [a, b, missing] = serials(3) as [SerialNumber, SerialNumber, SerialNumber];
      const full = entry(a, { batch: "2026-01 Pi 5", claimCertificateId: "e".repeat(64) });
      expect(await run(store().add([full, entry(b)]))).toEqual({ added: [a, b], existing: [] });
      expect(await run(store().find(a))).toEqual(Option.some(full));
      expect(await run(store().find(b))).toEqual(Option.some(entry(b)));
      expect(await run(store().find(missing))).toEqual(Option.none());
    });

    it("adding a listed serial again changes nothing and says so; removing takes it off", async () => {
      const [a, b] = serials(2) as [SerialNumber, SerialNumber];
      await run(store().add([entry(a, { batch: "first" })]));
      expect(await run(store().add([entry(a, { batch: "second" }), entry(b)]))).toEqual({
        added: [b],
        existing: [a],
      });
      expect(Option.getOrThrow(await run(store().find(a))).batch).toBe("first");
      await run(store().remove(a));
      await run(store().remove(a));
      expect(await run(store().find(a))).toEqual(Option.none());
    });

    it("lists every entry by serial number", async () => {
      const mine = serials(30);
      await run(store().add([...mine].reverse().map((s) => entry(s))));
      const listed = (await run(store().list())).filter((e) => mine.includes(e.serialNumber));
      expect(listed.map((e) => e.serialNumber)).toEqual(mine);
    });
  });
