import {
  GetThingShadowCommand,
  IoTDataPlaneClient,
  type IoTDataPlaneClientConfig,
  UpdateThingShadowCommand,
} from "@aws-sdk/client-iot-data-plane";
import {
  type DeviceId,
  type DeviceShadow,
  DeviceShadowRejected,
  DeviceShadows,
  type DeviceShadowsService,
  DeviceShadowUnavailable,
} from "@medusa/domain";
import { Effect, Layer, Option } from "effect";
import { isObject, type Json, type JsonObject } from "../shadow/json.js";

const utf8 = new TextDecoder();

/** The latest timestamp among a section's metadata leaves, in epoch ms. */
export const latestChange = (metadata: Json | undefined): number | undefined => {
  let latest: number | undefined;
  const walk = (node: Json | undefined) => {
    if (Array.isArray(node)) for (const n of node) walk(n);
    else if (isObject(node)) {
      const t = node.timestamp;
      if (Object.keys(node).length === 1 && typeof t === "number")
        latest = Math.max(latest ?? 0, t * 1000);
      else for (const v of Object.values(node)) walk(v);
    }
  };
  walk(metadata);
  return latest;
};

/** A GetThingShadow answer (or `/get/accepted`) as the port's `DeviceShadow`. */
export const shadowFromDocument = (document: unknown): DeviceShadow | undefined => {
  if (!isObject(document) || typeof document.version !== "number") return undefined;
  const state = isObject(document.state) ? document.state : {};
  const metadata = isObject(document.metadata) ? document.metadata : {};
  const section = (s: JsonObject, k: string) => (isObject(s[k]) ? (s[k] as JsonObject) : undefined);
  return {
    version: document.version,
    desired: section(state, "desired"),
    reported: section(state, "reported"),
    delta: section(state, "delta"),
    desiredAt: latestChange(metadata.desired),
    reportedAt: latestChange(metadata.reported),
  };
};

const statusOf = (e: unknown): number | undefined =>
  (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

const reasonOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * The devices' shadows through AWS IoT's data plane (`GetThingShadow`,
 * `UpdateThingShadow` on the classic shadow). `endpoint` is the account's
 * `iot:Data-ATS` endpoint (`https://…-ats.iot.<region>.amazonaws.com`), or the
 * local stack's emulation of it. A refusal (4xx) is `DeviceShadowRejected`
 * with AWS's code and message; anything else, `DeviceShadowUnavailable`.
 */
export const makeIotDataDeviceShadows = (client: IoTDataPlaneClient): DeviceShadowsService => ({
  get: (deviceId: DeviceId) =>
    Effect.tryPromise({
      try: () => client.send(new GetThingShadowCommand({ thingName: deviceId })),
      catch: (e) => e,
    }).pipe(
      Effect.map((out) => {
        const shadow = shadowFromDocument(JSON.parse(utf8.decode(out.payload ?? new Uint8Array())));
        if (!shadow) throw new Error("GetThingShadow answered something that is not a shadow");
        return Option.some(shadow);
      }),
      Effect.catchAll((e) =>
        statusOf(e) === 404
          ? Effect.succeed(Option.none())
          : Effect.fail(new DeviceShadowUnavailable({ operation: "get", reason: reasonOf(e) })),
      ),
      Effect.catchAllDefect((e) =>
        Effect.fail(new DeviceShadowUnavailable({ operation: "get", reason: reasonOf(e) })),
      ),
    ),
  updateDesired: (deviceId, desired) =>
    Effect.tryPromise({
      try: () =>
        client.send(
          new UpdateThingShadowCommand({
            thingName: deviceId,
            payload: new TextEncoder().encode(JSON.stringify({ state: { desired } })),
          }),
        ),
      catch: (e) => e,
    }).pipe(
      Effect.map((out) => {
        const accepted: unknown = JSON.parse(utf8.decode(out.payload ?? new Uint8Array()));
        if (!isObject(accepted) || typeof accepted.version !== "number")
          throw new Error("UpdateThingShadow answered without a version");
        return { version: accepted.version };
      }),
      Effect.catchAll((e) => {
        const status = statusOf(e);
        const error: DeviceShadowRejected | DeviceShadowUnavailable =
          status !== undefined && status >= 400 && status < 500
            ? new DeviceShadowRejected({ deviceId, code: status, reason: reasonOf(e) })
            : new DeviceShadowUnavailable({ operation: "update", reason: reasonOf(e) });
        return Effect.fail(error);
      }),
      Effect.catchAllDefect((e) =>
        Effect.fail(new DeviceShadowUnavailable({ operation: "update", reason: reasonOf(e) })),
      ),
    ),
});

export interface IotDataSettings {
  /** `https://{iot:Data-ATS endpoint}`, or the local emulation's `http://127.0.0.1:{port}`. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials?: IoTDataPlaneClientConfig["credentials"];
}

/** `DeviceShadows` on AWS IoT's data plane, with a client built once. */
export const iotDataShadowsLayer = (settings: IotDataSettings): Layer.Layer<DeviceShadows> =>
  Layer.scoped(
    DeviceShadows,
    Effect.acquireRelease(
      Effect.sync(
        () =>
          new IoTDataPlaneClient({
            endpoint: settings.endpoint,
            region: settings.region,
            maxAttempts: 2,
            ...(settings.credentials ? { credentials: settings.credentials } : {}),
          }),
      ),
      (client) => Effect.sync(() => client.destroy()),
    ).pipe(Effect.map(makeIotDataDeviceShadows)),
  );

/** `DeviceShadows` on AWS IoT's data plane with a client of its own, for an entry point that wires by hand. */
export const connectIotDataShadows = (
  settings: IotDataSettings,
): { readonly shadows: DeviceShadowsService; readonly close: () => void } => {
  const client = new IoTDataPlaneClient({
    endpoint: settings.endpoint,
    region: settings.region,
    maxAttempts: 2,
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
  });
  return { shadows: makeIotDataDeviceShadows(client), close: () => client.destroy() };
};
