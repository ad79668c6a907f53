/**
 * @medusa/device: the agent that runs on each wearable. Configuration,
 * sampling with batching, the durable outbox, MQTT, status, device info and
 * remote commands. The `medusa-device` command is `src/cli.ts`.
 */
export { type DeviceConfig, loadConfig, parseConfig } from "./config.js";
export { firstBoot } from "./first-boot.js";
export { ProvisioningFailed, ProvisioningRefused } from "./provisioning.js";
export { type DeviceLog, type RunningDevice, type StartOptions, startDevice } from "./run.js";
