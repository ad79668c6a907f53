import { IoTClient } from "@aws-sdk/client-iot";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createCertificateRegistry } from "../broker/certificate-registry.js";
import { registryThingCertificates } from "../broker/certificate-retirement.js";
import {
  type CertificatesControlPlane,
  startCertificatesControlPlane,
} from "../broker/certificates-control-plane.js";
import { localCredentials } from "../dynamodb/client.js";
import { thingCertificatesContract } from "../testing/thing-certificates-contract.js";
import { certificateIdOfArn, makeIotThingCertificates } from "./thing-certificates.js";

// AWS IoT's registry emulated over HTTP on 127.0.0.1 (the local broker's registry), called with
// the AWS SDK as the retirement function calls AWS; and the registry itself, the in-memory twin.
const registry = createCertificateRegistry();
let plane: CertificatesControlPlane;
let client: IoTClient;
beforeAll(async () => {
  plane = await startCertificatesControlPlane(registry);
  client = new IoTClient({ endpoint: plane.url, region: "local", credentials: localCredentials });
});
afterAll(async () => {
  client?.destroy();
  await plane?.close();
});

thingCertificatesContract("the local broker's registry", () => ({
  service: registryThingCertificates(registry),
  registry,
}));
thingCertificatesContract("AWS IoT over the AWS SDK (emulated control plane)", () => ({
  service: makeIotThingCertificates(client),
  registry,
}));

it("reads a certificate's id from its ARN, and no other principal's", () => {
  const id = "a1".repeat(32);
  expect(certificateIdOfArn(`arn:aws:iot:eu-central-1:123456789012:cert/${id}`)).toBe(id);
  expect(
    certificateIdOfArn("arn:aws:cognito-identity:eu-central-1:123456789012:identitypool/x"),
  ).toBeUndefined();
  expect(certificateIdOfArn(`arn:aws:iot:eu-central-1:123456789012:cert/${id}/x`)).toBeUndefined();
});
