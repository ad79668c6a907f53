import {
  ConflictException,
  DeleteThingShadowCommand,
  GetThingShadowCommand,
  IoTDataPlaneClient,
  RequestEntityTooLargeException,
  ResourceNotFoundException,
  UpdateThingShadowCommand,
} from "@aws-sdk/client-iot-data-plane";
import { DeviceShadows, deviceId } from "@medusa/domain";
import { Effect, Either, Layer } from "effect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ShadowDataPlane, startShadowDataPlane } from "../broker/shadow-data-plane.js";
import { ShadowService } from "../broker/shadow-service.js";
import { localCredentials } from "../dynamodb/client.js";
import { deviceShadowsContract } from "../testing/device-shadows-contract.js";
import { freePort } from "../testing/dynamo-local.js";
import { iotDataShadowsLayer, makeIotDataDeviceShadows } from "./device-shadows.js";

// AWS IoT's data plane, emulated over HTTP on 127.0.0.1, called with the AWS SDK as Lambda calls AWS.
let service: ShadowService;
let plane: ShadowDataPlane;
let client: IoTDataPlaneClient;
const published: Array<{ topic: string; payload: string }> = [];
beforeAll(async () => {
  service = new ShadowService({ publish: (topic, payload) => published.push({ topic, payload }) });
  plane = await startShadowDataPlane(service);
  client = new IoTDataPlaneClient({
    endpoint: plane.url,
    region: "local",
    credentials: localCredentials,
  });
});
afterAll(async () => {
  client.destroy();
  await plane.close();
});

deviceShadowsContract("AWS IoT data plane (emulated, over HTTP)", async () => ({
  shadows: makeIotDataDeviceShadows(client),
  report: async (id, reported) => {
    const answer = await service.update({ thing: id }, JSON.stringify({ state: { reported } }));
    if (answer.status !== 200) throw new Error(JSON.stringify(answer.body));
  },
}));

const text = (bytes: Uint8Array | undefined) => JSON.parse(new TextDecoder().decode(bytes));

describe("the emulated data plane, called with the AWS SDK", () => {
  it("answers each call as AWS does, and raises the SDK's exception for each refusal", async () => {
    const thingName = `sdk-${Date.now()}`;
    await expect(client.send(new GetThingShadowCommand({ thingName }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    const updated = await client.send(
      new UpdateThingShadowCommand({
        thingName,
        payload: new TextEncoder().encode(
          JSON.stringify({ state: { desired: { a: 1 } }, clientToken: "c1" }),
        ),
      }),
    );
    expect(text(updated.payload)).toMatchObject({
      state: { desired: { a: 1 } },
      metadata: { desired: { a: { timestamp: expect.any(Number) } } },
      version: 1,
      clientToken: "c1",
    });
    // A data-plane update is published on the shadow's topics too (not its refusals).
    expect(
      published.filter((p) => p.topic.startsWith(`$aws/things/${thingName}/`)).map((p) => p.topic),
    ).toEqual([
      `$aws/things/${thingName}/shadow/update/accepted`,
      `$aws/things/${thingName}/shadow/update/delta`,
      `$aws/things/${thingName}/shadow/update/documents`,
    ]);
    const conflict = client.send(
      new UpdateThingShadowCommand({
        thingName,
        payload: new TextEncoder().encode(
          JSON.stringify({ state: { desired: { a: 2 } }, version: 7 }),
        ),
      }),
    );
    await expect(conflict).rejects.toBeInstanceOf(ConflictException);
    await expect(conflict).rejects.toMatchObject({ message: "Version conflict" });
    await expect(
      client.send(
        new UpdateThingShadowCommand({
          thingName,
          payload: new TextEncoder().encode(
            JSON.stringify({ state: { desired: { big: "x".repeat(9000) } } }),
          ),
        }),
      ),
    ).rejects.toBeInstanceOf(RequestEntityTooLargeException);
    const named = await client.send(
      new UpdateThingShadowCommand({
        thingName,
        shadowName: "config",
        payload: new TextEncoder().encode(JSON.stringify({ state: { reported: { b: 1 } } })),
      }),
    );
    expect(text(named.payload).version).toBe(1);
    const deleted = await client.send(new DeleteThingShadowCommand({ thingName }));
    expect(text(deleted.payload)).toEqual({ version: 1, timestamp: expect.any(Number) });
    // The named shadow is its own.
    const got = await client.send(new GetThingShadowCommand({ thingName, shadowName: "config" }));
    expect(text(got.payload)).toMatchObject({ state: { reported: { b: 1 } }, version: 1 });
  });

  it("a data plane that cannot be reached is unavailable, not a refusal", async () => {
    const layer = iotDataShadowsLayer({
      endpoint: `http://127.0.0.1:${await freePort()}`,
      region: "local",
      credentials: localCredentials,
    });
    const result = await Effect.runPromise(
      Effect.either(
        Effect.flatMap(DeviceShadows, (s) => s.updateDesired(deviceId("pi-1"), { a: 1 })),
      ).pipe(Effect.provide(layer)),
    );
    expect(Either.isLeft(result) && result.left._tag).toBe("DeviceShadowUnavailable");
    const read = await Effect.runPromise(
      Effect.either(Effect.flatMap(DeviceShadows, (s) => s.get(deviceId("pi-1")))).pipe(
        Effect.provide(Layer.fresh(layer)),
      ),
    );
    expect(Either.isLeft(read) && read.left._tag).toBe("DeviceShadowUnavailable");
  });
});
