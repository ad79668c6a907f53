/**
 * The local stand-in for AWS IoT Core: an embedded broker that enforces the
 * IoT policy, and a development certificate authority. For the local stack
 * and tests only; kept out of the package's main entry so that the device
 * agent and the Lambda bundles never load aedes.
 */

export type { Aedes, AedesPublishPacket, Client as BrokerClient } from "aedes";
export * from "./certificate-registry.js";
export * from "./certificate-retirement.js";
export * from "./certificates-control-plane.js";
export * from "./dev-ca.js";
export * from "./fleet-provisioning.js";
export * from "./jobs-control-plane.js";
export * from "./jobs-service.js";
export * from "./jobs-store.js";
export * from "./local-broker.js";
export * from "./shadow-data-plane.js";
export * from "./shadow-service.js";
export * from "./shadow-store.js";
