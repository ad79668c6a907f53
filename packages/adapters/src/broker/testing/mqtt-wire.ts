// MQTT's bytes by hand, for tests that speak to the broker below any client library.

/** A variable byte integer (the fixed header's remaining length). */
export const varInt = (n: number): Buffer => {
  const bytes: Array<number> = [];
  do {
    bytes.push((n % 128) | (n >= 128 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return Buffer.from(bytes);
};

/** A UTF-8 string with its two-byte length. */
export const mqttString = (s: string): Buffer => {
  const b = Buffer.from(s);
  return Buffer.concat([Buffer.from([b.length >> 8, b.length & 0xff]), b]);
};

/** An MQTT 3.1.1 CONNECT with a clean session and a 60 s keep-alive. */
export const connectPacket = (clientId: string): Buffer => {
  const body = Buffer.concat([
    mqttString("MQTT"),
    Buffer.from([4, 0x02, 0, 60]),
    mqttString(clientId),
  ]);
  return Buffer.concat([Buffer.from([0x10]), varInt(body.length), body]);
};

/** A QoS 0 PUBLISH whose body is `length` bytes of 7. */
export const publishPacket = (length: number): Buffer =>
  Buffer.concat([Buffer.from([0x30]), varInt(length), Buffer.alloc(length, 7)]);
