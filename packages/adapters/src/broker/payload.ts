import type { AedesPublishPacket } from "aedes";

/**
 * A publish packet's payload as bytes. mqtt-packet types it `Buffer | string`:
 * a client's packet arrives as a Buffer; a string is possible only for one
 * published inside the broker with a string, read here as UTF-8.
 */
export const payloadBytes = (packet: Pick<AedesPublishPacket, "payload">): Buffer =>
  typeof packet.payload === "string" ? Buffer.from(packet.payload, "utf8") : packet.payload;
