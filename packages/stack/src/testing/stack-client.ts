import { connectTransport, type MqttTransport } from "@medusa/adapters/mqtt";
import type { Stack } from "../stack.js";

/** What the stack's tests share: waiting, the API as a clinician, MQTT as a device or service. */

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `check` holds, polling; fails with `what` after `ms`. */
export const eventually = async (
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 20_000,
) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
};

/** A sample's identity in a timeline: its sequence number and time. */
export const sampleKey = (s: { readonly timestamp: number; readonly sequence: number }) =>
  `${s.sequence}@${s.timestamp}`;

/** One API call with the stack's clinician token: the status and the JSON body. */
export const api = async (s: Stack, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${s.apiUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${s.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, json: (await response.json()) as Record<string, unknown> };
};

/** An MQTT client over TLS with `id`'s development certificate (a device, or `CLOUD_IDENTITY`). */
export const connectAs = (s: Stack, id: string): MqttTransport =>
  connectTransport({
    host: "127.0.0.1",
    port: s.mqttPort,
    clientId: id,
    ...s.certificates(id),
    backoff: { baseMs: 50, capMs: 200 },
  });
