import type { Duplex } from "node:stream";

/**
 * Watches the MQTT packets arriving on a connection and calls `onOversize`
 * as soon as a packet's fixed header announces a remaining length over
 * `maxRemainingLength` (or is malformed), before its body arrives.
 *
 * Neither aedes nor mqtt-packet has a size limit (moscajs/aedes#831): the
 * parser keeps a packet's bytes until its announced length has arrived, so a
 * client announcing 256 MB is buffered up to that. This reads only the
 * framing (one type byte, then 1–4 bytes of length) and skips bodies.
 *
 * It listens to `data`, which a readable stream emits for each chunk its
 * consumer `read()`s (aedes reads on `readable`), so it sees every byte
 * aedes's parser gets, as it gets it, without consuming or buffering any.
 */
export const guardPacketSize = (
  socket: Duplex,
  maxRemainingLength: number,
  onOversize: (announced: number | "malformed") => void,
): void => {
  /** Bytes of the current packet's body still to skip. */
  let skip = 0;
  /** Where we are in a fixed header: -1 before its type byte, else length bytes read. */
  let lengthBytes = -1;
  let length = 0;
  let done = false;

  const refuse = (announced: number | "malformed") => {
    done = true;
    socket.off("data", onData);
    onOversize(announced);
  };

  const onData = (chunk: Buffer | string) => {
    if (done || typeof chunk === "string") return;
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++] as number;
      if (lengthBytes < 0) {
        lengthBytes = 0;
        length = 0;
        continue;
      }
      length += (byte & 0x7f) * 128 ** lengthBytes++;
      if (byte & 0x80) {
        // A remaining length has four bytes at most (MQTT 3.1.1 §2.2.3, 5.0 §1.5.5).
        if (lengthBytes >= 4) return refuse("malformed");
        continue;
      }
      if (length > maxRemainingLength) return refuse(length);
      skip = length;
      lengthBytes = -1;
    }
  };
  socket.on("data", onData);
};
