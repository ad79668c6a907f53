import {
  type DeviceId,
  DeviceShadowRejected,
  DeviceShadows,
  type DeviceShadowsService,
} from "@medusa/domain";
import { Effect, Layer, Option } from "effect";
import { shadowFromDocument } from "../iot-data/device-shadows.js";
import { getShadow, type ShadowRecord, updateShadow } from "../shadow/document.js";

export interface InMemoryDeviceShadows extends DeviceShadowsService {
  /** What a device reports (its `reported` state merged in), for tests. */
  readonly report: (deviceId: DeviceId, reported: Readonly<Record<string, unknown>>) => void;
  readonly layer: Layer.Layer<DeviceShadows>;
}

/**
 * Device shadows in memory, with the shadow service's own rules (merge,
 * delta, versions, 8 KB, its rejections): the twin the API's tests run on.
 */
export const makeInMemoryDeviceShadows = (now: () => number = Date.now): InMemoryDeviceShadows => {
  const shadows = new Map<string, ShadowRecord>();
  const update = (deviceId: DeviceId, state: Record<string, unknown>) => {
    const out = updateShadow(shadows.get(deviceId), JSON.stringify({ state }), now());
    if (out.ok) shadows.set(deviceId, out.record);
    return out;
  };
  const service: DeviceShadowsService = {
    get: (deviceId) =>
      Effect.sync(() => {
        const out = getShadow(shadows.get(deviceId), "", now(), deviceId);
        return out.ok ? Option.fromNullable(shadowFromDocument(out.document)) : Option.none();
      }),
    updateDesired: (deviceId, desired) =>
      Effect.suspend(() => {
        const out = update(deviceId, { desired });
        return out.ok
          ? Effect.succeed({ version: out.record.version })
          : Effect.fail(
              new DeviceShadowRejected({
                deviceId,
                code: out.error.code,
                reason: out.error.message,
              }),
            );
      }),
  };
  return {
    ...service,
    report: (deviceId, reported) => {
      const out = update(deviceId, { reported });
      if (!out.ok) throw new Error(out.error.message);
    },
    layer: Layer.succeed(DeviceShadows, service),
  };
};
