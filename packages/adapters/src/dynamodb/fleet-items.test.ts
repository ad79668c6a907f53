import { marshall } from "@aws-sdk/util-dynamodb";
import { deviceId, epochMillis, initialDeviceStatus } from "@medusa/domain";
import { Either } from "effect";
import { describe, expect, it } from "vitest";
import { deviceStatusFromItem, deviceStatusItem } from "./fleet-items.js";

describe("a device status item", () => {
  it("a row saved before the newest sample time was kept reads with none (null)", () => {
    const { lastSampleAt: _, ...before } = initialDeviceStatus(deviceId("pi-old"));
    const read = deviceStatusFromItem(
      marshall({ device_id: "pi-old", revision: 3, status: JSON.stringify(before) }),
    );
    expect(Either.getOrThrow(read)).toEqual({
      status: { ...before, lastSampleAt: null },
      revision: 3,
    });
  });

  it("keeps the newest sample time through the item", () => {
    const status = { ...initialDeviceStatus(deviceId("pi-new")), lastSampleAt: epochMillis(42) };
    expect(
      Either.getOrThrow(deviceStatusFromItem(deviceStatusItem({ status, revision: 1 }))),
    ).toEqual({ status, revision: 1 });
  });
});
