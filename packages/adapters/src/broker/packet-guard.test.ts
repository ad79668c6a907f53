import { PassThrough } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { guardPacketSize } from "./packet-guard.js";
import { publishPacket, varInt } from "./testing/mqtt-wire.js";

/** Feeds the bytes in the given pieces the way aedes reads them (`read()` on `readable`). */
const feed = (bytes: Buffer, cuts: ReadonlyArray<number>, max: number) => {
  const socket = new PassThrough();
  const refused: Array<number | "malformed"> = [];
  socket.on("readable", () => {
    while (socket.read() !== null) {}
  });
  guardPacketSize(socket, max, (n) => refused.push(n));
  let at = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    socket.write(bytes.subarray(at, Math.max(at, cut)));
    at = Math.max(at, cut);
  }
  socket.write(bytes.subarray(at));
  return new Promise<Array<number | "malformed">>((resolve) =>
    setImmediate(() => resolve(refused)),
  );
};

describe("guardPacketSize", () => {
  it("lets packets up to the limit through, however the stream is cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 8 }),
        fc.array(fc.nat(3_000), { maxLength: 6 }),
        async (lengths, cuts) => {
          const bytes = Buffer.concat(lengths.map(publishPacket));
          expect(await feed(bytes, cuts, 300)).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses the first packet over the limit as its header arrives, wherever it is cut", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 4 }),
        fc.integer({ min: 301, max: 268_435_455 }),
        fc.array(fc.nat(2_000), { maxLength: 6 }),
        async (before, over, cuts) => {
          // Only the header of the big one: it is refused without its body.
          const bytes = Buffer.concat([
            ...before.map(publishPacket),
            Buffer.concat([Buffer.from([0x30]), varInt(over)]),
          ]);
          expect(await feed(bytes, cuts, 300)).toEqual([over]);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses a remaining length longer than four bytes", async () => {
    expect(await feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), [], 1e9)).toEqual([
      "malformed",
    ]);
  });
});
